use crate::harness::{client, spawn_app, spawn_app_with, Backend};

crate::on_both_databases!(
    unknown_email_gets_the_same_answer_and_no_mail,
    sign_in_link_expires_after_fifteen_minutes,
    link_tokens_are_stored_only_as_hashes,
    password_sign_in_works_once_a_password_is_set,
    sign_in_is_rate_limited_per_email_with_a_friendly_page,
    join_is_rate_limited_per_address,
    setup_link_creates_the_first_admin_once,
    sign_out_ends_the_session_in_the_database,
    session_cookie_is_http_only_and_same_site_lax,
);

async fn unknown_email_gets_the_same_answer_and_no_mail(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Known", "known@example.org", "member").await;
    let a = app.submit("/sign-in", "/sign-in", &[("email", "stranger@example.org")]).await;
    let b = app.submit("/sign-in", "/sign-in", &[("email", "known@example.org")]).await;
    assert_eq!((a.status, a.location.clone()), (b.status, b.location.clone()));
    app.smtp.wait_for("known@example.org", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.smtp.to("stranger@example.org").is_empty());
}

async fn sign_in_link_expires_after_fifteen_minutes(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Late", "late@example.org", "member").await;
    app.submit("/sign-in", "/sign-in", &[("email", "late@example.org")]).await;
    let link = app.smtp.wait_for("late@example.org", 1).await.link(&format!("{}/sign-in/link/", app.base));
    let lifetime: i64 = sqlx::query_scalar("SELECT expires_at - created_at FROM login_tokens")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(lifetime, 15 * 60);
    sqlx::query("UPDATE login_tokens SET expires_at = created_at - 1").execute(&app.state.db.pool).await.unwrap();
    let page = app.get(&link).await;
    assert_eq!(page.status, 410);
    assert!(page.body.contains("This link has expired or was already used"));
}

async fn link_tokens_are_stored_only_as_hashes(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Hash", "hash@example.org", "member").await;
    app.sign_in("hash@example.org").await;
    let link = app.smtp.wait_for("hash@example.org", 1).await.link(&format!("{}/sign-in/link/", app.base));
    let token = link.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    let stored: Vec<(String,)> =
        sqlx::query_as("SELECT token_hash FROM login_tokens").fetch_all(&app.state.db.pool).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].0, token);
    assert_eq!(stored[0].0, constellate::core::crypto::hash_token(&token));
}

async fn password_sign_in_works_once_a_password_is_set(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Pat", "pat@example.org", "member").await;
    let r = app
        .submit("/sign-in", "/sign-in/password", &[("password_email", "pat@example.org"), ("password", "whatever123")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("The email address or password is not right"));
    assert!(r.body.contains("value=\"pat@example.org\""));

    app.sign_in("pat@example.org").await;
    let r = app.submit("/me/password", "/me/password", &[("password", "short"), ("confirm", "short")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("at least 10 characters"));
    let r = app
        .submit("/me/password", "/me/password", &[("password", "a long passphrase"), ("confirm", "a long passphrase")])
        .await;
    assert_eq!(r.status, 303);
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM members WHERE email = 'pat@example.org'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    let fresh = client();
    let r = app
        .submit_with(
            &fresh,
            "/sign-in",
            "/sign-in/password",
            &[("password_email", "pat@example.org"), ("password", "a long passphrase")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(app.get_with(&fresh, "/me").await.status, 200);
}

async fn sign_in_is_rate_limited_per_email_with_a_friendly_page(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.rate_limit_per_email = Some(3)).await;
    for _ in 0..3 {
        assert_eq!(app.submit("/sign-in", "/sign-in", &[("email", "target@example.org")]).await.status, 303);
    }
    let r = app.submit("/sign-in", "/sign-in", &[("email", "target@example.org")]).await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("Please wait a little"));
    // Another address from the same place is still fine.
    assert_eq!(app.submit("/sign-in", "/sign-in", &[("email", "other@example.org")]).await.status, 303);
}

async fn join_is_rate_limited_per_address(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.rate_limit_per_ip = Some(2)).await;
    for i in 0..2 {
        let email = format!("p{i}@example.org");
        assert_eq!(
            app.submit("/join/individual", "/join/individual", &[("display_name", "P"), ("email", &email)])
                .await
                .status,
            303
        );
    }
    let r =
        app.submit("/join/individual", "/join/individual", &[("display_name", "P"), ("email", "p9@example.org")]).await;
    assert_eq!(r.status, 429);
}

async fn setup_link_creates_the_first_admin_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let link = constellate::features::accounts::setup_link_if_needed(&app.state)
        .await
        .unwrap()
        .expect("a setup link when there is no admin");
    let r = app.submit(&link, &link, &[("display_name", ""), ("email", "bad")]).await;
    assert_eq!(r.status, 422);
    let r = app.submit(&link, &link, &[("display_name", "First Admin"), ("email", "admin@example.org")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let staff = app.get("/staff").await;
    assert_eq!(staff.status, 200);
    assert!(app.get("/admin/audit").await.status == 200);
    // Used up, and no new link once an admin exists.
    assert_eq!(app.get_with(&client(), &link).await.status, 410);
    assert!(constellate::features::accounts::setup_link_if_needed(&app.state).await.unwrap().is_none());
}

async fn sign_out_ends_the_session_in_the_database(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Out", "out@example.org", "member").await;
    app.sign_in("out@example.org").await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(n, 1);
    let r = app.submit("/me", "/sign-out", &[]).await;
    assert_eq!(r.status, 303);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(n, 0);
    assert_eq!(app.get("/me").await.status, 303);
}

async fn session_cookie_is_http_only_and_same_site_lax(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Cookie", "cookie@example.org", "member").await;
    let c = client();
    app.submit_with(&c, "/sign-in", "/sign-in", &[("email", "cookie@example.org")]).await;
    let link = app.smtp.wait_for("cookie@example.org", 1).await.link(&format!("{}/sign-in/link/", app.base));
    let html = app.get_with(&c, &link).await.body;
    let token = crate::harness::csrf_in(&html);
    let r = c.post(app.url(&link)).form(&[("_csrf", token.as_str())]).send().await.unwrap();
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let sid = cookies.iter().find(|c| c.starts_with("sid=")).expect("a session cookie");
    assert!(sid.contains("HttpOnly") && sid.contains("SameSite=Lax"), "{sid}");
    assert!(!sid.contains("Secure"), "not Secure over plain http on loopback");
}
