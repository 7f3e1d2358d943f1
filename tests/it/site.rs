use crate::harness::{spawn_app, Backend};

crate::on_both_databases!(
    home_health_and_metrics_answer,
    unknown_pages_get_a_helpful_404,
    oversized_bodies_are_refused_early_with_a_friendly_page,
    pages_make_no_third_party_requests,
    backup_writes_a_consistent_copy_while_serving,
);

async fn home_health_and_metrics_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("One", "one@example.org", "member").await;
    let home = app.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("<strong>1</strong> members"));
    assert_eq!(home.body.matches("<h1").count(), 1);
    assert!(home.body.contains("class=\"skip-link\" href=\"#main\""));
    assert_eq!(app.get("/healthz").await.body, "ok\n");
    let metrics = app.get("/metrics").await.body;
    assert!(metrics.contains("# TYPE constellate_http_requests_total counter"));
    assert!(metrics.contains("constellate_members{status=\"active\"} 1"));
}

async fn unknown_pages_get_a_helpful_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.get("/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("<h1>Page not found</h1>"));
    assert_eq!(app.get("/members/999999").await.status, 404);
    assert_eq!(app.get("/groups/not-a-number").await.status, 400);
}

async fn oversized_bodies_are_refused_early_with_a_friendly_page(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(backend).await;
    // Only the headers are sent: the answer must come before any of the 2 MB body.
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /join/individual HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        2 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut response)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("That is too large") && text.contains("larger than we accept"));
}

async fn pages_make_no_third_party_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/", "/join", "/join/individual", "/sign-in", "/groups"] {
        let body = app.get(path).await.body;
        for attr in ["src=\"http", "href=\"http", "url(http", "src=\"//", "href=\"//"] {
            assert!(!body.contains(attr), "{path} refers to another host: {attr}");
        }
    }
    let css = app.get("/static/site.css").await.body;
    assert!(!css.contains("http") && !css.contains("@import"));
}

async fn backup_writes_a_consistent_copy_while_serving(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Backed Up", "backup@example.org", "member").await;
    let target = app.data_dir.join("snapshot.db");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_constellate"));
    cmd.args(["backup", "--to", target.to_str().unwrap(), "--data-dir", app.data_dir.to_str().unwrap()]);
    if let Some(url) = &app.state.config.database_url {
        cmd.env("DATABASE_URL", url);
    } else {
        cmd.env_remove("DATABASE_URL");
    }
    let out = cmd.output().unwrap();
    match backend {
        Backend::Sqlite => {
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let copy = sqlx::SqlitePool::connect(&format!("sqlite://{}", target.display())).await.unwrap();
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE email = 'backup@example.org'")
                .fetch_one(&copy)
                .await
                .unwrap();
            assert_eq!(n, 1);
        }
        Backend::Postgres => {
            assert!(!out.status.success());
            assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"), "points to pg_dump");
        }
    }
}

crate::on_both_databases!(absurd_page_numbers_are_answered_not_fatal);

async fn absurd_page_numbers_are_answered_not_fatal(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("admin").await;
    for path in [
        "/groups?page=9223372036854775807",
        "/staff/members?page=9223372036854775807&q=a",
        "/staff/members?page=-9223372036854775808",
        "/admin/audit?page=9223372036854775807",
    ] {
        let status = app.get_with(&staff, path).await.status;
        assert_eq!(status, 200, "{path}");
    }
}
