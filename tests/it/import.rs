use reqwest::multipart::{Form, Part};

use crate::harness::{csrf_in, spawn_app, Backend, TestApp};

crate::on_both_databases!(
    a_bad_file_gets_a_row_by_row_report_and_imports_nothing,
    a_windows_spreadsheet_imports_whole_with_duplicates_reported_not_doubled,
    groups_import_links_contacts_by_email,
    export_is_csv_that_excel_opens,
    a_large_file_checks_and_commits_in_one_transaction,
    an_upload_without_the_forms_token_is_refused,
);

async fn upload(app: &TestApp, staff: &reqwest::Client, kind: &str, bytes: Vec<u8>) -> (u16, String) {
    let token = csrf_in(&app.get_with(staff, "/staff/import").await.body);
    let form = Form::new()
        .text("_csrf", token)
        .text("kind", kind.to_string())
        .part("file", Part::bytes(bytes).file_name("export.csv"));
    let r = staff.post(app.url("/staff/import")).multipart(form).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The checked file, as the report page hands it back for the commit step.
fn content_of(report: &str) -> String {
    let start = report.find("<textarea name=\"content\"").expect("a commit form");
    let body = &report[start..];
    let text = &body[body.find('>').unwrap() + 1..body.find("</textarea>").unwrap()];
    text.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// Press "Import now" on a checked report, as a browser sends the form back.
async fn commit(app: &TestApp, staff: &reqwest::Client, kind: &str, report: &str) -> crate::harness::Page {
    let content = content_of(report);
    app.submit_with(staff, "/staff/import", "/staff/import/commit", &[("kind", kind), ("content", content.as_str())])
        .await
}

async fn members_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM members").fetch_one(&app.state.db.pool).await.unwrap()
}

async fn a_bad_file_gets_a_row_by_row_report_and_imports_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let before = members_count(&app).await;
    let csv = "Full Name,E-mail Address,Region,Bulletin\nGood Person,good@example.org,Wales,yes\n,missing-name@example.org,,\nBad Email,not-an-email,Atlantis,perhaps\n";
    let (status, body) = upload(&app, &staff, "members", csv.as_bytes().to_vec()).await;
    assert_eq!(status, 422);
    assert!(body.contains("There is a problem"));
    assert!(body.contains("<td>3</td><td>name</td><td>Enter a name or pseudonym</td>"), "{body}");
    assert!(body.contains("<td>4</td><td>email</td>"));
    assert!(body.contains("<td>4</td><td>region</td>"));
    assert!(body.contains("<td>4</td><td>bulletin</td><td>Use yes or no"));
    assert!(!body.contains("Import now"));
    assert_eq!(members_count(&app).await, before);

    let (status, body) = upload(&app, &staff, "members", b"Colour,Shape\nred,round\n".to_vec()).await;
    assert_eq!(status, 422);
    assert!(
        body.contains("No column for &#39;name&#39;")
            || body.contains("No column for 'name'")
            || body.contains("No column for &#x27;name&#x27;"),
        "{body}"
    );

    let (status, body) = upload(&app, &staff, "members", vec![]).await;
    assert_eq!(status, 422);
    assert!(body.contains("Choose a CSV file to import"));
}

async fn a_windows_spreadsheet_imports_whole_with_duplicates_reported_not_doubled(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Already Here", "already@example.org", "member").await;
    let staff = app.staff("staff").await;
    // Windows-1252 bytes (é = 0xE9), CRLF line ends, quoted fields with commas and quotes.
    let mut csv: Vec<u8> = b"NAME , Email,COMMUNITIES,Research\r\n".to_vec();
    csv.extend_from_slice(b"Ren\xe9e Martin,renee@example.org,\"Carers, Young people\",Y\r\n");
    csv.extend_from_slice(b"\"O'Neil, \"\"Mac\"\"\",mac@example.org,,no\r\n");
    csv.extend_from_slice(b"Dup Person,ALREADY@example.org,,\r\n");
    csv.extend_from_slice(b"Twice,renee@example.org,,\r\n");
    let (status, report) = upload(&app, &staff, "members", csv).await;
    assert_eq!(status, 200, "{report}");
    assert!(report.contains("<strong>2</strong> members to add"));
    assert!(report.contains("<strong>2</strong> duplicates to skip"));
    assert!(report.contains("already@example.org is already a member"));

    let r = commit(&app, &staff, "members", &report).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let names: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT display_name, communities FROM members WHERE email IN ('renee@example.org', 'mac@example.org') ORDER BY email")
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(
        names,
        vec![
            ("O'Neil, \"Mac\"".to_string(), None),
            ("Renée Martin".to_string(), Some("Carers; Young people".to_string()))
        ]
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE email = 'already@example.org'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Committing the same file again adds nothing: every row is now a duplicate.
    let before = members_count(&app).await;
    commit(&app, &staff, "members", &report).await;
    assert_eq!(members_count(&app).await, before);
}

async fn groups_import_links_contacts_by_email(backend: Backend) {
    let app = spawn_app(backend).await;
    let contact = app.add_member("Contact", "contact@example.org", "member").await;
    let staff = app.staff("staff").await;
    let csv = "\u{feff}Group name,What the group does,Region,User-led,Contact email\nLeeds Listeners,We listen.,Yorkshire and the Humber,yes,contact@example.org\nGhost Group,Nobody.,,no,ghost@example.org\n";
    let (status, report) = upload(&app, &staff, "groups", csv.as_bytes().to_vec()).await;
    assert_eq!(status, 422);
    assert!(report.contains("No member has the email ghost@example.org"));
    let good = "Group name,Description,Contact email\nLeeds Listeners,We listen.,contact@example.org\n";
    let (status, report) = upload(&app, &staff, "groups", good.as_bytes().to_vec()).await;
    assert_eq!(status, 200);
    let r = commit(&app, &staff, "groups", &report).await;
    assert_eq!(r.status, 303);
    let groups = constellate::features::members::store::contact_groups(&app.state.db, contact).await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].1, "Leeds Listeners");
}

async fn export_is_csv_that_excel_opens(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("=cmd|' /C calc'!A0", "formula@example.org", "member").await;
    let staff = app.staff("staff").await;
    let r = staff.get(app.url("/staff/members.csv")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFid,name,email"));
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.contains("\r\n"));
    assert!(text.contains("'=cmd"), "formula defused");
    assert_eq!(text.trim_end().split("\r\n").count(), 3, "header and two members");
}

async fn a_large_file_checks_and_commits_in_one_transaction(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let mut csv = String::from("name,email,region,communities,bulletin,directory,research\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "Person Number {i},person.{i}@example.net,North West,\"Carers, Peer support, Young people\",yes,no,yes\n"
        ));
    }
    assert!(csv.len() > 256 * 1024, "bigger than an ordinary form");
    let (status, report) = upload(&app, &staff, "members", csv.into_bytes()).await;
    assert_eq!(status, 200);
    assert!(report.contains("<strong>3000</strong> members to add"));
    let before = members_count(&app).await;
    let r = commit(&app, &staff, "members", &report).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(members_count(&app).await, before + 3000);
}

async fn an_upload_without_the_forms_token_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    let token = csrf_in(&app.get_with(&staff, "/staff/import").await.body);
    for form in [
        Form::new()
            .text("kind", "members")
            .part("file", Part::bytes(b"name,email\nA,a@example.org\n".to_vec()).file_name("a.csv")),
        Form::new()
            .text("_csrf", "forged")
            .text("kind", "members")
            .part("file", Part::bytes(b"name,email\n".to_vec()).file_name("a.csv")),
    ] {
        // A token in the address is not accepted either: it would end up in browser history.
        let r = staff.post(app.url(&format!("/staff/import?_csrf={token}"))).multipart(form).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403);
        assert_eq!(r.headers()["x-denied"], "csrf");
    }
}
