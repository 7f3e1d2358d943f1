use crate::harness::{spawn_app, spawn_app_with, Backend};
use constellate::core::config::Approval;

crate::on_both_databases!(
    joining_confirms_by_emailed_link_and_signs_in,
    join_form_reports_every_error_and_keeps_what_was_typed,
    joining_again_with_the_same_email_does_not_make_a_second_account,
    profile_edit_saves_and_refuses_bad_values,
    changing_to_a_taken_email_answers_the_same_and_changes_nothing,
    consent_changes_are_recorded_with_time_and_wording_version,
    reviewed_membership_waits_for_staff_approval,
    profile_page_honours_visibility,
);

async fn joining_confirms_by_emailed_link_and_signs_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .submit(
            "/join/individual",
            "/join/individual",
            &[
                ("display_name", "Willow Heron"),
                ("email", "Willow@Example.org"),
                ("region", "Wales"),
                ("communities", "Carers"),
                ("communities_other", "Hearing voices network"),
                ("consents", "bulletin"),
                ("consents", "research"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/join/check-email"));

    // Not signed in yet, and not active until the address is confirmed.
    assert_eq!(app.get("/me").await.status, 303);
    let status: String = sqlx::query_scalar("SELECT status FROM members WHERE email = 'willow@example.org'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "unconfirmed");

    let mail = app.smtp.wait_for("willow@example.org", 1).await;
    assert!(mail.subject().contains("sign-in link"));
    let link = mail.link(&format!("{}/sign-in/link/", app.base));
    let page = app.get(&link).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Finish signing in"));
    let r = app.submit(&link, &link, &[("return_to", "/me")]).await;
    assert_eq!(r.status, 303);
    let me = app.follow(r).await;
    assert!(me.body.contains("Willow Heron"), "{}", me.body);
    assert!(me.body.contains("Hearing voices network"));
    assert!(me.body.contains("You are signed in."));

    let status: String = sqlx::query_scalar("SELECT status FROM members WHERE email = 'willow@example.org'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "active");

    // The link worked once only.
    let again = app.get(&link).await;
    assert_eq!(again.status, 410);
}

async fn join_form_reports_every_error_and_keeps_what_was_typed(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app.submit("/join/individual", "/join/individual", &[]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("There is a problem"));
    assert!(r.body.contains("<title>Error: Join as an individual"));
    assert!(r.body.contains("href=\"#display_name\">Enter a name or pseudonym"));
    assert!(r.body.contains("href=\"#email\">Enter your email address"));

    let r = app
        .submit(
            "/join/individual",
            "/join/individual",
            &[
                ("display_name", "Sam <b>Q</b>"),
                ("email", "not-an-email"),
                ("communities", "Carers"),
                ("consents", "directory"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Enter an email address in the correct format"));
    assert!(r.body.contains("value=\"not-an-email\""), "typed email kept");
    assert!(
        r.body.contains("value=\"Sam &#60;b&#62;Q&#60;/b&#62;\"")
            || r.body.contains("value=\"Sam &lt;b&gt;Q&lt;/b&gt;\""),
        "typed name kept, escaped"
    );
    assert!(r.body.contains("value=\"Carers\" checked"));
    assert!(r.body.contains("value=\"directory\" checked"));
    assert!(r.body.contains("aria-invalid=\"true\""));
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(count, 0);
}

async fn joining_again_with_the_same_email_does_not_make_a_second_account(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..2 {
        let r = app
            .submit("/join/individual", "/join/individual", &[("display_name", "Fern"), ("email", "fern@example.org")])
            .await;
        assert_eq!(r.status, 303);
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE email = 'fern@example.org'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    app.smtp.wait_for("fern@example.org", 2).await;
}

async fn profile_edit_saves_and_refuses_bad_values(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.add_member("Kai Reid", "kai@example.org", "member").await;
    app.add_member("Other", "other@example.org", "member").await;
    app.sign_in("kai@example.org").await;

    let r = app
        .submit(
            "/me/edit",
            "/me/edit",
            &[("display_name", ""), ("email", "other@example.org"), ("region", "Mars"), ("visibility", "public")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("Enter a name or pseudonym"));
    assert!(!r.body.contains("other@example.org\" aria-invalid"), "a taken address is not an error here");
    assert!(r.body.contains("Choose a region from the list"));

    let r = app
        .submit(
            "/me/edit",
            "/me/edit",
            &[
                ("display_name", "Kai R"),
                ("email", "kai.new@example.org"),
                ("region", "Scotland"),
                ("communities_other", "Young people, Students"),
                ("visibility", "private"),
                ("access_needs", "Step-free access please"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let me = app.follow(r).await;
    assert!(me.body.contains("Your profile has been saved. We have emailed a link to the new address"));
    assert!(me.body.contains("kai@example.org") && !me.body.contains("kai.new@example.org"), "not until confirmed");
    assert!(me.body.contains("Young people; Students"));
    assert!(me.body.contains("Recorded (stored encrypted)"));
    // Access needs are sealed at rest.
    let sealed: String = sqlx::query_scalar("SELECT access_needs_enc FROM members WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert!(!sealed.contains("Step-free"));
    assert_eq!(app.state.keys.decrypt(&sealed).unwrap(), "Step-free access please");
    let edit = app.get("/me/edit").await;
    assert!(edit.body.contains("Step-free access please"));

    // The new address takes effect from the link sent to it, and the old address is told.
    let mail = app.smtp.wait_for("kai.new@example.org", 1).await;
    let link = mail.link(&format!("{}/me/email/", app.base));
    assert!(app.get(&link).await.body.contains("Use this address"));
    let me = app.follow(app.submit(&link, &link, &[]).await).await;
    assert!(
        me.body.contains("Your account now uses your new email address.") && me.body.contains("kai.new@example.org")
    );
    let told = app.smtp.wait_for("kai@example.org", 2).await;
    assert!(told.subject().contains("has changed"), "{}", told.subject());
    assert_eq!(app.submit(&link, &link, &[]).await.status, 200, "using it twice changes nothing more");
    let tampered = format!("{}x", link);
    assert_eq!(app.get(&tampered).await.status, 404);
}

/// Changing to an address another account uses answers exactly as for a free address; only the
/// owner of that address hears about it, and nothing changes.
async fn changing_to_a_taken_email_answers_the_same_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.add_member("Kai Reid", "kai@example.org", "member").await;
    app.add_member("Other", "other@example.org", "member").await;
    app.sign_in("kai@example.org").await;
    let fields = |email: &'static str| {
        [("display_name", "Kai Reid"), ("email", email), ("region", ""), ("visibility", "members")]
    };
    let taken = app.submit("/me/edit", "/me/edit", &fields("other@example.org")).await;
    let free = app.submit("/me/edit", "/me/edit", &fields("free@example.org")).await;
    assert_eq!((taken.status, taken.location.as_deref()), (free.status, free.location.as_deref()));
    let taken_page = app.follow(taken).await.body;
    assert!(taken_page.contains("We have emailed a link to the new address"), "{taken_page}");
    let note = app.smtp.wait_for("other@example.org", 1).await;
    assert!(note.subject().contains("Nothing was changed") && !note.text().contains("/me/email/"));
    let email: String = sqlx::query_scalar("SELECT email FROM members WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(email, "kai@example.org");
}

async fn consent_changes_are_recorded_with_time_and_wording_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.add_member("Ada", "ada@example.org", "member").await;
    app.sign_in("ada@example.org").await;
    let r = app.submit("/me/consents", "/me/consents", &[("consents", "research")]).await;
    assert_eq!(r.status, 303);
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT purpose, granted, wording_version FROM consents WHERE member_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&app.state.db.pool)
            .await
            .unwrap();
    // Three from joining, then bulletin turned off and research turned on; directory unchanged.
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(rows[3..].contains(&("bulletin".into(), 0, "2026-11".into())));
    assert!(rows[3..].contains(&("research".into(), 1, "2026-11".into())));
    let page = app.get("/me/consents").await;
    assert!(page.body.contains("value=\"research\" checked"));
    assert!(!page.body.contains("value=\"bulletin\" checked"));
}

async fn reviewed_membership_waits_for_staff_approval(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.approval = Some(Approval::Reviewed)).await;
    app.submit("/join/individual", "/join/individual", &[("display_name", "Nia"), ("email", "nia@example.org")]).await;
    let mail = app.smtp.wait_for("nia@example.org", 1).await;
    let link = mail.link(&format!("{}/sign-in/link/", app.base));
    let me = app.follow(app.submit(&link, &link, &[]).await).await;
    assert!(me.body.contains("A member of staff will review your membership soon"));
    // Awaiting review: own data yes, member-only pages no.
    assert_eq!(app.get("/groups/new").await.status, 403);

    let staff = app.staff("staff").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM members WHERE email = 'nia@example.org'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    let listing = app.get_with(&staff, "/staff/members?status=pending").await;
    assert!(listing.body.contains("nia@example.org"));
    let r =
        app.submit_with(&staff, &format!("/staff/members/{id}"), &format!("/staff/members/{id}/approve"), &[]).await;
    assert_eq!(r.status, 303);
    let welcome = app.smtp.wait_for("nia@example.org", 2).await;
    assert!(welcome.subject().starts_with("Welcome"));
    assert_eq!(app.get("/groups/new").await.status, 200);
}

async fn profile_page_honours_visibility(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.add_member("Rowan", "rowan@example.org", "member").await;
    let path = format!("/members/{id}");
    // Default is members only.
    assert_eq!(app.get(&path).await.status, 404);
    let viewer = crate::harness::client();
    app.add_member("Viewer", "viewer@example.org", "member").await;
    app.sign_in_with(&viewer, "viewer@example.org").await;
    assert_eq!(app.get_with(&viewer, &path).await.status, 200);
    sqlx::query("UPDATE members SET visibility = 'private' WHERE id = $1")
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(app.get_with(&viewer, &path).await.status, 404);
    sqlx::query("UPDATE members SET visibility = 'public' WHERE id = $1")
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let public = app.get(&path).await;
    assert_eq!(public.status, 200);
    assert!(public.body.contains("<h1>Rowan</h1>"));
    assert!(!public.body.contains("rowan@example.org"), "email never shown on a profile");
}
