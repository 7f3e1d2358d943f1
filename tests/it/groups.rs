use crate::harness::{client, spawn_app, Backend};

crate::on_both_databases!(
    a_member_registers_a_group_becomes_its_contact_and_adds_another,
    group_descriptions_are_sanitised
);

async fn a_member_registers_a_group_becomes_its_contact_and_adds_another(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Seren Davies", "seren@example.org", "member").await;
    let other = app.add_member("Bilal Khan", "bilal@example.org", "member").await;
    app.sign_in("seren@example.org").await;

    let r = app.submit("/groups/new", "/groups/new", &[("name", ""), ("visibility", "public")]).await;
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("Enter the group&#39;s name") || r.body.contains("Enter the group&#x27;s name"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Say whether the group is led by people with lived experience"));

    let r = app
        .submit(
            "/groups/new",
            "/groups/new",
            &[
                ("name", "Swansea Sea Swimmers"),
                ("description", "We swim **every** Sunday."),
                ("region", "Wales"),
                ("lived_experience_led", "yes"),
                ("visibility", "public"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location.clone().unwrap();
    let page = app.follow(r).await;
    assert!(page.body.contains("<h1>Swansea Sea Swimmers</h1>"));
    assert!(page.body.contains("<strong>every</strong>"));
    assert!(page.body.contains("Seren Davies"));
    assert!(app.get("/me").await.body.contains("Swansea Sea Swimmers"));

    // Not a contact: may not edit.
    let outsider = client();
    app.sign_in_with(&outsider, "bilal@example.org").await;
    assert_eq!(app.get_with(&outsider, &format!("{location}/edit")).await.status, 403);

    let r =
        app.submit(&location, &format!("{location}/contacts"), &[("contact_email", "nobody-here@example.org")]).await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("No active member has that email address"));
    assert!(r.body.contains("value=\"nobody-here@example.org\""));
    let r = app.submit(&location, &format!("{location}/contacts"), &[("contact_email", "bilal@example.org")]).await;
    assert_eq!(r.status, 303);
    assert_eq!(app.get_with(&outsider, &format!("{location}/edit")).await.status, 200);
    let groups = constellate::features::members::store::contact_groups(&app.state.db, other).await.unwrap();
    assert_eq!(groups.len(), 1, "a group can have several contacts");
    assert!(app.get("/groups").await.body.contains("Swansea Sea Swimmers"));
}

async fn group_descriptions_are_sanitised(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add_member("Ellis", "ellis@example.org", "member").await;
    app.sign_in("ellis@example.org").await;
    let r = app
        .submit(
            "/groups/new",
            "/groups/new",
            &[
                ("name", "<script>alert(1)</script>"),
                ("description", "<img src=https://tracker.example/p.gif onerror=alert(1)> <script>alert(2)</script>hi"),
                ("lived_experience_led", "no"),
                ("visibility", "members"),
            ],
        )
        .await;
    let page = app.follow(r).await;
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("tracker.example"));
    assert!(page.body.contains("&#60;script&#62;") || page.body.contains("&lt;script&gt;"));
    // Members-only groups are hidden from the public.
    let location = sqlx::query_scalar::<_, i64>("SELECT id FROM groups").fetch_one(&app.state.db.pool).await.unwrap();
    assert_eq!(app.get_with(&client(), &format!("/groups/{location}")).await.status, 404);
}
