//! Defects an outside security and privacy check found, each with the test that failed before
//! its fix: text that databases refuse, redirects off the site, missing headers, public
//! metrics, timing that tells who has a password, and rate limits that do not say when to retry.
use crate::harness::{client, spawn_app, spawn_app_with, Backend};

crate::on_both_databases!(
    a_nul_byte_or_control_character_in_a_form_is_removed_not_a_500,
    text_that_is_not_utf8_is_refused_with_a_page_and_nothing_is_saved,
    an_address_with_a_control_character_is_refused_with_a_page,
    sign_in_links_only_ever_return_to_a_path_on_this_site,
    every_response_carries_the_security_headers,
    metrics_answer_this_machine_or_the_configured_token_only,
    a_rate_limited_answer_says_when_to_try_again,
    a_password_sign_in_for_an_unknown_address_costs_a_password_check_too,
    a_second_instance_with_another_key_refuses_to_start_and_with_the_same_key_starts,
);

async fn a_nul_byte_or_control_character_in_a_form_is_removed_not_a_500(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = app
        .submit(
            "/join/individual",
            "/join/individual",
            &[("display_name", "Nul\0by\u{7}te\r\nName"), ("email", "nul@example.org")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let name: String = sqlx::query_scalar("SELECT display_name FROM members WHERE email = 'nul@example.org'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(name, "Nulbyte Name", "control characters gone; the line break is a space in a name");
}

async fn text_that_is_not_utf8_is_refused_with_a_page_and_nothing_is_saved(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = client();
    let token = crate::harness::csrf_in(&app.get_with(&browser, "/join/individual").await.body);
    let body = format!("_csrf={token}&display_name=Bad%FF%FEname&email=bytes%40example.org");
    let r = browser
        .post(app.url("/join/individual"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("was not readable text") && page.contains("<html lang=\"en-GB\">"), "{page}");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(n, 0);
}

async fn an_address_with_a_control_character_is_refused_with_a_page(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/groups?page=%00", "/staff/members?q=a%00b", "/letters/x%0Ay", "/sign-in?return_to=/%FF"] {
        let page = app.get(path).await;
        assert_eq!(page.status, 400, "{path}");
        assert!(page.body.contains("cannot be part of an address"), "{path}: {}", page.body);
    }
}

/// The link is requested with `return_to` set, then used; where it sends the browser is the test.
async fn sign_in_links_only_ever_return_to_a_path_on_this_site(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.rate_limit_per_email = Some(50)).await;
    app.add_member("Rae", "rae@example.org", "member").await;
    for (asked, expected) in [
        ("/\n/x", "/me"),
        ("/\t/evil.example", "/me"),
        ("//evil.example", "/me"),
        ("/\\evil.example", "/me"),
        ("/groups?page=2", "/groups?page=2"),
    ] {
        let browser = client();
        let before = app.smtp.to("rae@example.org").len();
        let r = app
            .submit_with(&browser, "/sign-in", "/sign-in", &[("email", "rae@example.org"), ("return_to", asked)])
            .await;
        assert_eq!(r.status, 303, "{asked:?}: {}", r.body);
        let mail = app.smtp.wait_for("rae@example.org", before + 1).await;
        let link = mail.link(&format!("{}/sign-in/link/", app.base));
        let page = app.get_with(&browser, &link).await;
        assert_eq!(page.status, 200, "{asked:?}: {}", page.body);
        let returned = crate::harness::hidden_field(&page.body, "return_to");
        let r = app.submit_with(&browser, &link, &link, &[("return_to", returned.as_str())]).await;
        assert_eq!(r.location.as_deref(), Some(expected), "{asked:?}");
    }
    // Sent straight to the form, past the page: the same.
    let browser = client();
    let before = app.smtp.to("rae@example.org").len();
    app.submit_with(&browser, "/sign-in", "/sign-in", &[("email", "rae@example.org")]).await;
    let link = app.smtp.wait_for("rae@example.org", before + 1).await.link(&format!("{}/sign-in/link/", app.base));
    let r = app.submit_with(&browser, &link, &link, &[("return_to", "/\t/evil.example")]).await;
    assert_eq!(r.location.as_deref(), Some("/me"));
}

async fn every_response_carries_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff("staff").await;
    for (who, path) in [
        (&app.client, "/"),
        (&app.client, "/no/such/page"),
        (&app.client, "/static/site.css"),
        (&app.client, "/groups?page=%00"),
        (&staff, "/me"),
        (&staff, "/staff"),
        (&staff, "/staff/members"),
    ] {
        let r = who.get(app.url(path)).send().await.unwrap();
        let h = r.headers();
        let csp = h.get("content-security-policy").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{path}: CSP lacks {part}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff", "{path}");
        assert_eq!(h.get("referrer-policy").unwrap(), "same-origin", "{path}");
        assert!(h.get("strict-transport-security").is_none(), "no HSTS over plain http: {path}");
    }
    let tls = spawn_app_with(backend, |s| s.base_url = Some("https://network.example.org".into())).await;
    let r = tls.client.get(tls.url("/")).send().await.unwrap();
    assert_eq!(r.headers().get("strict-transport-security").unwrap(), "max-age=63072000");
}

async fn metrics_answer_this_machine_or_the_configured_token_only(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/metrics").await.status, 200, "this machine");
    let proxied = app.client.get(app.url("/metrics")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(proxied.status(), 403, "a request through a proxy is not this machine");
    let token = "a-long-monitoring-token-123";
    let app = spawn_app_with(backend, |s| s.metrics_token = Some(token.into())).await;
    let get = |bearer: &str| {
        app.client
            .get(app.url("/metrics"))
            .header("x-forwarded-for", "203.0.113.9")
            .bearer_auth(bearer.to_string())
            .send()
    };
    assert_eq!(get("wrong-token-wrong-token").await.unwrap().status(), 403);
    let r = get(token).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("constellate_members"));
}

async fn a_rate_limited_answer_says_when_to_try_again(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.rate_limit_per_email = Some(1)).await;
    app.submit("/sign-in", "/sign-in", &[("email", "busy@example.org")]).await;
    let browser = client();
    let token = crate::harness::csrf_in(&app.get_with(&browser, "/sign-in").await.body);
    let r = browser
        .post(app.url("/sign-in"))
        .form(&[("_csrf", token.as_str()), ("email", "busy@example.org")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: i64 = r.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "{wait}");
}

async fn a_password_sign_in_for_an_unknown_address_costs_a_password_check_too(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("No Password", "nopass@example.org", "member").await;
    for email in ["nobody-here@example.org", "nopass@example.org"] {
        let before = constellate::core::crypto::password_checks();
        let r = app
            .submit("/sign-in", "/sign-in/password", &[("password_email", email), ("password", "a guess at it")])
            .await;
        assert_eq!(r.status, 422, "{email}");
        assert!(r.body.contains("The email address or password is not right"));
        assert!(constellate::core::crypto::password_checks() > before, "{email}: answered without checking a password");
    }
}

async fn a_second_instance_with_another_key_refuses_to_start_and_with_the_same_key_starts(backend: Backend) {
    use constellate::core::config::Config;
    let app = spawn_app(backend).await;
    let line = std::fs::read_to_string(app.data_dir.join("encryption.key")).unwrap();
    let config = app.state.config.clone();
    let start =
        |c: Config| async move { constellate::server::open_state(c).await.map(|_| ()).map_err(|e| e.to_string()) };

    let other = Config { encryption_key: Some(constellate::core::crypto::LinkSigner::new_key()), ..config.clone() };
    let refused = start(other.clone()).await.unwrap_err();
    assert!(refused.contains("is not the key the database's sensitive fields were sealed with"), "{refused}");
    assert!(refused.contains("CONSTELLATE_ENCRYPTION_KEY"), "names the setting: {refused}");

    // On PostgreSQL a second instance usually has a data folder of its own: no key file is made
    // there, and it is told what to do.
    if backend == Backend::Postgres {
        let elsewhere = std::env::temp_dir().join(format!("second-instance-{}", std::process::id()));
        let fresh = Config { data_dir: elsewhere.clone(), ..config.clone() };
        let refused = start(fresh.clone()).await.unwrap_err();
        assert!(refused.contains("copy that instance's encryption.key"), "{refused}");
        assert!(!elsewhere.join("encryption.key").exists());
        let same = Config { encryption_key: Some(line.trim().to_string()), ..fresh };
        assert_eq!(start(same).await, Ok(()));
    }
    let same = Config { encryption_key: Some(line.trim().to_string()), ..config.clone() };
    assert_eq!(start(same).await, Ok(()));

    // `config check` says the same, and changes nothing.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_constellate"));
    cmd.args(["config", "check", "--data-dir", config.data_dir.to_str().unwrap()]);
    cmd.env("CONSTELLATE_ENCRYPTION_KEY", other.encryption_key.as_deref().unwrap());
    match &config.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("problem: encryption key: this instance's encryption key"), "{text}");
}
