//! A realistic synthetic network for newcomers and benchmarks. Every name is made up from
//! word lists; every email is at example.org, a domain reserved so no real person gets mail.
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};

use crate::{
    core::{
        db::{Db, Dialect},
        time::now,
    },
    features::{
        grants::{
            domain::{ApplicantType, ValidFund, ValidRound},
            store as grants_store,
        },
        groups::{domain::ValidGroup, store as group_store},
        members::{
            domain::{EmailAddress, NewMember, Purpose, COMMUNITY_SUGGESTIONS, REGIONS},
            store,
        },
        voice::{
            domain::{LetterStatus, ValidLetter},
            store as voice_store,
        },
    },
};

const FIRST: &[&str] = &[
    "Aaliyah", "Abdi", "Ada", "Adebayo", "Aisha", "Alex", "Amara", "Amir", "Anwen", "Arjun", "Beth", "Bilal", "Bryony",
    "Callum", "Carys", "Chidi", "Ciara", "Dafydd", "Deepa", "Eilidh", "Ellis", "Emeka", "Fatima", "Fern", "Finlay",
    "Gwen", "Hamza", "Harper", "Imani", "Isla", "Jamal", "Jess", "Jude", "Kai", "Kemi", "Kiran", "Lachlan", "Leila",
    "Lowri", "Malik", "Maya", "Morgan", "Niamh", "Nia", "Oisin", "Olu", "Priya", "Quinn", "Rafi", "Rhys", "Riley",
    "Rowan", "Sade", "Sam", "Sana", "Seren", "Tariq", "Tegan", "Theo", "Uma", "Wren", "Yusuf", "Zainab", "Zeke",
];
const LAST: &[&str] = &[
    "Achebe",
    "Ahmed",
    "Bailey",
    "Bhatt",
    "Brennan",
    "Campbell",
    "Chowdhury",
    "Clarke",
    "Davies",
    "Doyle",
    "Edwards",
    "Evans",
    "Fraser",
    "Gallagher",
    "Grant",
    "Hughes",
    "Hussain",
    "Iqbal",
    "Jones",
    "Kaur",
    "Kelly",
    "Khan",
    "Lewis",
    "MacLeod",
    "Mensah",
    "Morgan",
    "Murray",
    "Nwosu",
    "Okafor",
    "Owen",
    "Patel",
    "Price",
    "Quinn",
    "Rahman",
    "Reid",
    "Roberts",
    "Ross",
    "Shah",
    "Singh",
    "Stewart",
    "Thomas",
    "Walsh",
    "Watson",
    "Williams",
    "Wright",
    "Young",
];
const PSEUDO_A: &[&str] =
    &["Quiet", "Bright", "Brave", "Gentle", "Wild", "Steady", "Little", "Silver", "Northern", "Hopeful"];
const PSEUDO_B: &[&str] =
    &["Otter", "Heron", "Fox", "Willow", "Moth", "Harbour", "Lantern", "Kestrel", "River", "Bramble"];
const EXTRA_COMMUNITIES: &[&str] = &[
    "Hearing voices",
    "Survivors of the psychiatric system",
    "Black men's wellbeing",
    "Trans and non-binary people",
    "People in recovery",
    "Students",
    "Farming communities",
    "Deaf community",
    "Faith communities",
    "Veterans",
];
const PLACES: [&[&str]; 12] = [
    &["Tyneside", "Durham", "Teesside", "Sunderland"],
    &["Manchester", "Liverpool", "Preston", "Cumbria"],
    &["Leeds", "Sheffield", "Hull", "Bradford"],
    &["Nottingham", "Leicester", "Derby", "Lincoln"],
    &["Birmingham", "Coventry", "Wolverhampton", "Stoke"],
    &["Norwich", "Cambridge", "Ipswich", "Luton"],
    &["Hackney", "Lewisham", "Brixton", "Tottenham"],
    &["Brighton", "Oxford", "Kent", "Reading"],
    &["Bristol", "Plymouth", "Cornwall", "Exeter"],
    &["Glasgow", "Edinburgh", "Dundee", "Highland"],
    &["Cardiff", "Swansea", "Gwynedd", "Wrexham"],
    &["Belfast", "Derry", "Newry", "Fermanagh"],
];
const GROUP_KINDS: &[&str] = &[
    "Peer Support Circle",
    "Hearing Voices Group",
    "Walking Group",
    "Creative Collective",
    "Allotment Project",
    "Survivors' Forum",
    "Young Minds Crew",
    "Sisters' Space",
    "Men's Shed",
    "Recovery Café",
    "Arts Collective",
    "Tea and Talk",
];
const GROUP_DOES: &[&str] = &[
    "We meet every week to talk, listen and share what helps.",
    "A small group that walks together on Saturdays. No pressure to talk.",
    "We make art, zines and music about our own experiences.",
    "We grow food together and share it with neighbours.",
    "We campaign locally for services that listen to the people who use them.",
    "A space run by and for people who have been through the system.",
];

/// Fill the database with `members` synthetic members and `groups` groups, in one transaction.
pub async fn seed(db: &Db, members: usize, groups: usize, seed: u64) -> Result<(), sqlx::Error> {
    let mut rng = StdRng::seed_from_u64(seed);
    let t = now();
    let six_years = 6 * 365 * 24 * 3600;
    let mut tx = db.begin().await?;
    let first_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM members").fetch_one(&mut *tx).await?;
    let mut people = Vec::with_capacity(members);
    for i in 0..members {
        let pseudonym = rng.gen_bool(0.15);
        let name = if pseudonym {
            format!(
                "{} {}",
                PSEUDO_A.choose(&mut rng).unwrap_or(&"Quiet"),
                PSEUDO_B.choose(&mut rng).unwrap_or(&"Otter")
            )
        } else {
            format!("{} {}", FIRST.choose(&mut rng).unwrap_or(&"Sam"), LAST.choose(&mut rng).unwrap_or(&"Jones"))
        };
        let email_local: String =
            name.to_lowercase().chars().map(|c| if c.is_alphanumeric() { c } else { '.' }).collect();
        let email = EmailAddress::parse(&format!("{email_local}.{}@example.org", first_id as usize + i + 1))
            .map_err(|e| sqlx::Error::Protocol(e.into()))?;
        // London and the North West are bigger, Northern Ireland smaller: roughly like the real map.
        let region_index = if rng.gen_bool(0.12) { None } else { Some(weighted_region(&mut rng)) };
        let mut communities: Vec<String> = Vec::new();
        for _ in 0..rng.gen_range(0..3) {
            let c = if rng.gen_bool(0.7) {
                COMMUNITY_SUGGESTIONS.choose(&mut rng)
            } else {
                EXTRA_COMMUNITIES.choose(&mut rng)
            };
            if let Some(c) = c {
                if !communities.iter().any(|x| x == c) {
                    communities.push(c.to_string());
                }
            }
        }
        let member = NewMember {
            display_name: name,
            email,
            region: region_index.map(|r| REGIONS[r].to_string()),
            communities,
            consents: vec![
                (Purpose::Bulletin, rng.gen_bool(0.8)),
                (Purpose::Directory, rng.gen_bool(0.4)),
                (Purpose::Research, rng.gen_bool(0.3)),
            ],
        };
        people.push((member, t - rng.gen_range(0..six_years)));
    }
    let batch: Vec<_> = people.iter().map(|(m, joined)| (m, *joined)).collect();
    let ids = store::insert_many(&mut tx, &batch, "active", "member").await?;
    // A member chosen at random, as the same draw from the generator as before ids were returned.
    let pick = |rng: &mut StdRng| ids[(rng.gen_range(1..=members as i64) - 1) as usize];
    // A group acts through a contact member: with no members there can be no groups.
    let groups = if members == 0 { 0 } else { groups };
    for g in 0..groups {
        let region = weighted_region(&mut rng);
        let place = PLACES[region].choose(&mut rng).unwrap_or(&"Local");
        let name = format!("{place} {} {}", GROUP_KINDS.choose(&mut rng).unwrap_or(&"Group"), g + 1);
        let created = t - rng.gen_range(0..six_years);
        let group = ValidGroup {
            name,
            description: GROUP_DOES.choose(&mut rng).unwrap_or(&"").to_string(),
            region: Some(REGIONS[region].to_string()),
            lived_experience_led: rng.gen_bool(0.85),
            visibility: "public",
        };
        let contact = pick(&mut rng);
        let id = group_store::insert(&mut tx, &group, contact, created).await?;
        if rng.gen_bool(0.4) {
            let second = pick(&mut rng);
            group_store::add_contact(&mut tx, id, second, created).await?;
        }
    }
    tx.commit().await?;
    // Fresh statistics, so the query planner knows the tables are no longer empty (and on
    // PostgreSQL a visibility map, so index-only scans work straight after a bulk load).
    let analyze = match db.dialect {
        Dialect::Sqlite => "ANALYZE",
        Dialect::Postgres => "VACUUM ANALYZE",
    };
    sqlx::query(analyze).execute(&db.pool).await?;
    Ok(())
}

fn weighted_region(rng: &mut StdRng) -> usize {
    const WEIGHTS: [u32; 12] = [5, 12, 9, 8, 10, 9, 16, 13, 8, 8, 5, 3];
    let total: u32 = WEIGHTS.iter().sum();
    let mut pick = rng.gen_range(0..total);
    for (i, w) in WEIGHTS.iter().enumerate() {
        if pick < *w {
            return i;
        }
        pick -= w;
    }
    0
}

/// What a newcomer should find beside the members and groups: an open letter that members have
/// been signing, and a grants fund with a round open for applications. Called by `serve --demo`
/// after [`seed`], on a fresh database only.
pub async fn showcase(db: &Db, network: &str) -> Result<(), sqlx::Error> {
    let t = now();
    let mut tx = db.begin().await?;
    let letter = ValidLetter {
        kind: "letter",
        title: "Keep community mental health drop-ins open".into(),
        body: "We are people who use, and have used, community drop-ins.\n\nThey are where many of us first \
               found someone who listened. We ask you to **protect their funding** for the next three years, \
               and to involve the people who use them in any decision about their future."
            .into(),
        addressee: "The Secretary of State for Health and Social Care".into(),
        goal: None,
        published_with: network.into(),
        status: LetterStatus::Open,
        closes_on: None,
    };
    let letter_id = voice_store::insert_letter(&mut tx, &letter, t - 12 * 86_400).await?;
    // Members signing over the last twelve days: most by full name, some by initials, a few
    // counted but not named, as the signing form offers.
    let display = "CASE WHEN id % 10 < 6 THEN 'full' WHEN id % 10 < 9 THEN 'initials' ELSE 'hidden' END";
    let sql = format!(
        "INSERT INTO letter_signatures (letter_id, email, name, display, wants_updates, created_at, confirmed_at) \
         SELECT $1, email, display_name, {display}, id % 2, $2 - (id % 12) * 86400, $2 - (id % 12) * 86400 \
         FROM members WHERE status = 'active' AND id % 17 = 0 ORDER BY id LIMIT 240"
    );
    sqlx::query(&sql).bind(letter_id).bind(t).execute(&mut *tx).await?;
    let fund = ValidFund {
        name: "Community Grants Fund".into(),
        purpose: "Small grants for user-led groups and members: room hire, travel, materials, time.".into(),
        budget_pence: 2_000_000,
        restricted: false,
        applicant_type: ApplicantType::Both,
        cap_pence: Some(100_000),
        donations_only: false,
        regrant_type: None,
        criteria: vec![
            ("Led by lived experience".into(), "The people running it have been there themselves.".into()),
            ("Reach".into(), "It reaches people other services miss.".into()),
        ],
    };
    let fund_id = grants_store::insert_fund(&mut tx, &fund).await?;
    let round = ValidRound {
        title: "Small grants, open all year".into(),
        opens_on: None,
        closes_on: None,
        rolling: true,
        budget_pence: 500_000,
        who_decides: "A panel of four members and two staff, who are paid for their time.".into(),
        help: "Call or email us and we will fill the form in with you.".into(),
    };
    let round_id = grants_store::insert_round(&mut tx, fund_id, &round).await?;
    sqlx::query("UPDATE grant_rounds SET published = 1 WHERE id = $1").bind(round_id).execute(&mut *tx).await?;
    tx.commit().await
}
