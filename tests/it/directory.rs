use crate::harness::{spawn_app, Backend};

crate::on_both_databases!(staff_search_finds_members_by_name_email_group_region_and_community);

async fn staff_search_finds_members_by_name_email_group_region_and_community(backend: Backend) {
    let app = spawn_app(backend).await;
    constellate::demo::seed(&app.state.db, 120, 10, 7).await.unwrap();
    let id = app.add_member("Ottoline Brackenbury", "ottoline@example.net", "member").await;
    sqlx::query("UPDATE members SET communities = 'Allotment growers', region = 'Scotland' WHERE id = $1")
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let group: i64 = sqlx::query_scalar(
        "INSERT INTO groups (name, description, lived_experience_led, created_at, updated_at) VALUES ('Zinnia Collective', 'x', 1, 1, 1) RETURNING id",
    ).fetch_one(&mut *conn).await.unwrap();
    sqlx::query("INSERT INTO group_contacts (group_id, member_id, added_at) VALUES ($1, $2, 1)")
        .bind(group)
        .bind(id)
        .execute(&mut *conn)
        .await
        .unwrap();
    constellate::features::members::store::reindex(&mut conn, id).await.unwrap();
    drop(conn);

    let staff = app.staff("staff").await;
    for q in [
        "ottol",
        "Brackenbury",
        "ottoline@example.net",
        "ottoline@exa",
        "example.net",
        "zinnia",
        "allotment grow",
        "OTTOLINE brack",
    ] {
        let page = app.get_with(&staff, &format!("/staff/members?q={}", q.replace(' ', "+"))).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Ottoline Brackenbury"), "search '{q}'");
        assert!(page.body.contains("1 member found."), "search '{q}' finds only her");
    }
    let miss = app.get_with(&staff, "/staff/members?q=ottoline&region=Wales").await;
    assert!(miss.body.contains("0 members found"));
    let hit = app.get_with(&staff, "/staff/members?q=ottoline&region=Scotland&sort=newest").await;
    assert!(hit.body.contains("1 member found"));

    // Paging through everyone: 50 a page, in name order.
    let all = app.get_with(&staff, "/staff/members").await;
    assert!(all.body.contains("122 members found"), "120 seeded + Ottoline + staff");
    assert!(all.body.contains("Page 1</li>") && all.body.contains("Next page"));
    let third = app.get_with(&staff, "/staff/members?page=3").await;
    assert_eq!(third.body.matches("<tr><td><a href=\"/staff/members/").count(), 22);
    // Nonsense parameters are tolerated, not fatal.
    assert_eq!(app.get_with(&staff, "/staff/members?page=-4&sort=';drop&status=zzz").await.status, 200);
    assert_eq!(app.get_with(&staff, "/staff/members?page=abc").await.status, 400);
}

crate::on_both_databases!(the_status_filter_lists_the_few_members_waiting_for_approval);

/// Most members are active: the pending few must be found by status alone and with words,
/// in every sort, and counted.
async fn the_status_filter_lists_the_few_members_waiting_for_approval(backend: Backend) {
    let app = spawn_app(backend).await;
    constellate::demo::seed(&app.state.db, 300, 5, 3).await.unwrap();
    for name in ["Waiting Quillfeather", "Waiting Ashdown"] {
        let id = app.add_member(name, &format!("{}@example.net", name.replace(' ', ".")), "member").await;
        sqlx::query("UPDATE members SET status = 'pending' WHERE id = $1")
            .bind(id)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
    }
    let staff = app.staff("staff").await;
    for query in
        ["status=pending", "status=pending&sort=newest", "status=pending&sort=oldest", "status=pending&q=waiting"]
    {
        let page = app.get_with(&staff, &format!("/staff/members?{query}")).await;
        assert!(page.body.contains("2 members found"), "{query}: {}", page.body);
        assert_eq!(page.body.matches("<tr><td><a href=\"/staff/members/").count(), 2, "{query}");
    }
    let by_name = app.get_with(&staff, "/staff/members?status=pending").await.body;
    assert!(by_name.find("Waiting Ashdown") < by_name.find("Waiting Quillfeather"), "name order");
    let one = app.get_with(&staff, "/staff/members?status=pending&q=quill").await;
    assert!(one.body.contains("1 member found.") && one.body.contains("Waiting Quillfeather"));
    let none = app.get_with(&staff, "/staff/members?status=unconfirmed").await;
    assert!(none.body.contains("0 members found"));
}

crate::on_both_databases!(common_words_and_large_results_stay_bounded);

/// "example" is in every seeded address (more than the rare-word limit), so it is checked per
/// member while walking the name index; "ottoline" is rare and picks candidates directly.
async fn common_words_and_large_results_stay_bounded(backend: Backend) {
    let app = spawn_app(backend).await;
    constellate::demo::seed(&app.state.db, 2100, 5, 11).await.unwrap();
    app.add_member("Ottoline Example", "ottoline@example.org", "member").await;
    let staff = app.staff("staff").await;
    let many = app.get_with(&staff, "/staff/members?q=example").await;
    assert!(many.body.contains("More than 200 members found"), "{}", many.body);
    assert!(many.body.contains("Next page"));
    assert_eq!(many.body.matches("<tr><td><a href=\"/staff/members/").count(), 50);
    let deep = app.get_with(&staff, "/staff/members?q=example&page=42").await;
    assert_eq!(deep.body.matches("<tr><td><a href=\"/staff/members/").count(), 50);
    assert!(deep.body.contains("Next page"));
    let both = app.get_with(&staff, "/staff/members?q=example+ottoline").await;
    assert!(both.body.contains("1 member found."), "{}", both.body);
    assert!(both.body.contains("Ottoline Example"));
}

crate::on_both_databases!(a_rare_word_pages_through_its_matches_in_name_order);

async fn a_rare_word_pages_through_its_matches_in_name_order(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in (0..60).rev() {
        app.add_member(&format!("Zephyrine {i:02}"), &format!("z{i}@example.org"), "member").await;
    }
    let staff = app.staff("staff").await;
    let first = app.get_with(&staff, "/staff/members?q=zephyr").await;
    assert!(first.body.contains("60 members found."), "{}", first.body);
    assert_eq!(first.body.matches("<tr><td><a href=\"/staff/members/").count(), 50);
    let at = |body: &str, name: &str| body.find(name).unwrap_or_else(|| panic!("{name} missing"));
    assert!(at(&first.body, "Zephyrine 00") < at(&first.body, "Zephyrine 01"), "name order");
    assert!(first.body.contains("Next page"));
    let second = app.get_with(&staff, "/staff/members?q=zephyr&page=2").await;
    assert_eq!(second.body.matches("<tr><td><a href=\"/staff/members/").count(), 10);
    assert!(second.body.contains("Zephyrine 59") && !second.body.contains("Next page"));
    let beyond = app.get_with(&staff, "/staff/members?q=zephyr&page=9").await;
    assert_eq!(beyond.status, 200);
    assert_eq!(beyond.body.matches("<tr><td><a href=\"/staff/members/").count(), 0);
}

crate::on_both_databases!(a_word_starting_several_terms_lists_each_member_once_in_name_order);

/// "pat" starts pat, patel, patience and patrick: the page merges those terms' lists, and a
/// member with two of them ("Pat Patel") appears once. "quill" starts more terms than are
/// merged, so its matches are read and sorted instead: the same answer either way.
async fn a_word_starting_several_terms_lists_each_member_once_in_name_order(backend: Backend) {
    let app = spawn_app(backend).await;
    for (name, email) in [
        ("Patrick Hale", "p1@example.org"),
        ("Pat Patel", "p2@example.org"),
        ("Patience Okoro", "p3@example.org"),
        ("Amir Patel", "p4@example.org"),
        ("Dora Nobody", "p5@example.org"),
    ] {
        app.add_member(name, email, "member").await;
    }
    for i in 0..12 {
        app.add_member(&format!("Quill{} Writer", (b'a' + i) as char), &format!("q{i}@example.org"), "member").await;
    }
    let staff = app.staff("staff").await;
    let names = |body: &str| -> Vec<String> {
        body.split("<tr><td><a href=\"/staff/members/")
            .skip(1)
            .map(|row| row.split_once("\">").unwrap().1.split('<').next().unwrap().to_string())
            .collect()
    };
    let pat = app.get_with(&staff, "/staff/members?q=pat").await;
    assert!(pat.body.contains("4 members found."), "{}", pat.body);
    assert_eq!(names(&pat.body), ["Amir Patel", "Pat Patel", "Patience Okoro", "Patrick Hale"]);
    let quill = app.get_with(&staff, "/staff/members?q=quill").await;
    assert!(quill.body.contains("12 members found."), "{}", quill.body);
    assert_eq!(names(&quill.body).first().map(String::as_str), Some("Quilla Writer"));
    assert_eq!(names(&quill.body).last().map(String::as_str), Some("Quilll Writer"));
    // A page past the end still says how many there are.
    let past = app.get_with(&staff, "/staff/members?q=pat&page=3").await;
    assert!(past.body.contains("4 members found."), "{}", past.body);
    assert!(names(&past.body).is_empty());
    let past = app.get_with(&staff, "/staff/members?q=quill&page=3").await;
    assert!(past.body.contains("12 members found."), "{}", past.body);
    // Two words: candidates from both, counted in the same statement as the page.
    let two = app.get_with(&staff, "/staff/members?q=pat+okoro").await;
    assert!(two.body.contains("1 member found."), "{}", two.body);
    assert_eq!(names(&two.body), ["Patience Okoro"]);
    let none = app.get_with(&staff, "/staff/members?q=pat+zzz").await;
    assert!(none.body.contains("0 members found"), "{}", none.body);
}

crate::on_both_databases!(two_words_page_through_the_members_matching_both_in_name_order);

/// Both words are rare, so each picks its members and only those matching both are sorted and
/// paged: 55 match "amara jones" (in either order, and by the start of their addresses), while
/// Amara Smith and Kemi Jones each match only one word.
async fn two_words_page_through_the_members_matching_both_in_name_order(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in (0..55).rev() {
        app.add_member(&format!("Amara Jones {i:02}"), &format!("amara.jones.{i}@example.org"), "member").await;
    }
    for i in 0..5 {
        app.add_member(&format!("Amara Smith {i}"), &format!("amara.smith.{i}@example.org"), "member").await;
        app.add_member(&format!("Kemi Jones {i}"), &format!("kemi.jones.{i}@example.org"), "member").await;
    }
    let staff = app.staff("staff").await;
    let rows = |body: &str| body.matches("<tr><td><a href=\"/staff/members/").count();
    for q in ["amara+jones", "jones+amara", "amara+jon", "amara.jones+example"] {
        let first = app.get_with(&staff, &format!("/staff/members?q={q}")).await;
        assert!(first.body.contains("55 members found."), "{q}: {}", first.body);
        assert_eq!(rows(&first.body), 50, "{q}");
        assert!(first.body.find("Amara Jones 00").unwrap() < first.body.find("Amara Jones 01").unwrap(), "{q}");
        assert!(
            first.body.contains("Next page") && !first.body.contains("Amara Smith") && !first.body.contains("Kemi")
        );
    }
    let second = app.get_with(&staff, "/staff/members?q=amara+jones&page=2").await;
    assert_eq!(rows(&second.body), 5);
    assert!(second.body.contains("Amara Jones 54") && !second.body.contains("Next page"));
    let past = app.get_with(&staff, "/staff/members?q=amara+jones&page=4").await;
    assert!(past.body.contains("55 members found."), "{}", past.body);
    assert_eq!(rows(&past.body), 0);
    let address = app.get_with(&staff, "/staff/members?q=amara.jones.7@example.org").await;
    assert!(address.body.contains("1 member found.") && address.body.contains("Amara Jones 07"), "{}", address.body);
    let filtered = app.get_with(&staff, "/staff/members?q=amara+jones&region=Scotland").await;
    assert!(filtered.body.contains("0 members found"), "{}", filtered.body);
    let newest = app.get_with(&staff, "/staff/members?q=amara+jones&region=Wales&sort=newest").await;
    assert!(newest.body.contains("55 members found."), "{}", newest.body);
}

crate::on_both_databases!(upgrading_marks_the_whole_addresses_already_in_the_search_index);

/// Before migration 6 a whole address was stored as a plain term, inside the range of every
/// word it starts with. Re-running that migration over such a row marks it, and the member is
/// still found by name and by address.
async fn upgrading_marks_the_whole_addresses_already_in_the_search_index(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = app.add_member("Amara Osei", "amara.osei@example.org", "member").await;
    let db = &app.state.db;
    sqlx::query(
        "UPDATE member_search_terms SET term = 'amara.osei@example.org' WHERE term = '@amara.osei@example.org'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM schema_migrations WHERE version = 6").execute(&db.pool).await.unwrap();
    constellate::core::db::Db::open(&app.state.config).await.unwrap();
    let terms: Vec<String> =
        sqlx::query_scalar("SELECT term FROM member_search_terms WHERE member_id = $1 AND term LIKE '%@%'")
            .bind(id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(terms, ["@amara.osei@example.org"]);
    let staff = app.staff("staff").await;
    for q in ["amara", "amara.osei@example.org", "amara.osei@ex"] {
        let page = app.get_with(&staff, &format!("/staff/members?q={q}")).await;
        assert!(page.body.contains("1 member found.") && page.body.contains("Amara Osei"), "{q}: {}", page.body);
    }
}
