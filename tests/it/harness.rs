//! Starts the real server on a free port with a fresh database (SQLite file or a new
//! PostgreSQL database) and a real SMTP server that receives and parses every message.
use std::{
    net::TcpListener as StdListener,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use constellate::{
    core::{
        config::{Config, SettingsArgs},
        state::AppState,
    },
    features::members::{
        domain::{EmailAddress, NewMember, Purpose},
        store,
    },
    server,
};
use mailin_embedded::{response, Handler, Response};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a scenario once on each database.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::harness::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::harness::Backend::Postgres).await
                }
            }
        )*
    };
}

#[derive(Clone, Debug)]
pub struct Received {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(&self.raw).expect("a message that parses as RFC 5322")
    }
    pub fn text(&self) -> String {
        self.parsed().body_text(0).map(|t| t.into_owned()).unwrap_or_default()
    }
    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }
    /// The first link in the plain-text body that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        let text = self.text();
        let start = text.find(prefix).unwrap_or_else(|| panic!("no link starting {prefix} in:\n{text}"));
        text[start..].split_whitespace().next().unwrap_or_default().to_string()
    }
}

#[derive(Clone)]
struct Sink {
    inbox: Arc<Mutex<Vec<Received>>>,
    rcpts: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Sink {
    fn rcpt(&mut self, to: &str) -> Response {
        // An address containing "nobody" is refused for good, as a real server refuses an unknown mailbox.
        if to.contains("nobody") {
            response::NO_MAILBOX
        } else {
            response::OK
        }
    }
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.rcpts = to.to_vec();
        self.data.clear();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        let message = Received { to: std::mem::take(&mut self.rcpts), raw: std::mem::take(&mut self.data) };
        self.inbox.lock().unwrap().push(message);
        response::OK
    }
}

/// A real SMTP server on a free loopback port, in its own threads.
pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let mut server = mailin_embedded::Server::new(Sink { inbox: inbox.clone(), rcpts: vec![], data: vec![] });
        server.with_name("smtp.test").with_num_threads(16).with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, inbox }
    }

    pub fn all(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    pub fn to(&self, address: &str) -> Vec<Received> {
        self.all().into_iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address))).collect()
    }

    /// Wait for the `n`th message (1-based) to `address`.
    pub async fn wait_for(&self, address: &str, n: usize) -> Received {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found = self.to(address);
            if found.len() >= n {
                return found[n - 1].clone();
            }
            assert!(Instant::now() < deadline, "no message {n} to {address} within 15 s; have {}", found.len());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub smtp: SmtpServer,
    pub state: AppState,
    pub data_dir: PathBuf,
    /// Removes the data folder and the PostgreSQL database when the test ends, passed or failed.
    pub _scratch: Scratch,
}

/// What a test made outside itself: a data folder and, on PostgreSQL, a database. Dropped when
/// the test ends, also by a panic's unwinding, so a run of the suite leaves nothing behind.
pub struct Scratch {
    pub data_dir: PathBuf,
    pub database: Option<String>,
}

impl Scratch {
    /// A fresh data folder name and, for PostgreSQL, a fresh database (returned as its URL).
    pub async fn new(backend: Backend) -> (Scratch, Option<String>) {
        let data_dir = std::env::temp_dir().join(unique("constellate-it"));
        match backend {
            Backend::Sqlite => (Scratch { data_dir, database: None }, None),
            Backend::Postgres => {
                let url = fresh_postgres().await;
                let name = url.rsplit('/').next().map(str::to_string);
                (Scratch { data_dir, database: name }, Some(url))
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let Some(name) = self.database.take() else { return };
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its own
        // runtime does the work. FORCE ends the server's open connections to the database.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await.ok()?;
                sqlx::Executor::execute(&mut conn, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .ok()
            })
        });
        let _ = dropped.join();
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("CONSTELLATE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{:x}", std::process::id(), rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

/// A fresh, empty PostgreSQL database; returns its URL.
pub async fn fresh_postgres() -> String {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let name = unique("ct");
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL must be running for the tests ({admin}): {e}. Run scripts/test, which starts it.")
    });
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    format!("{base}/{name}")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Settings for a test instance: a fresh data folder and database, mail to `smtp`. The
/// returned [`Scratch`] removes both when it is dropped.
pub async fn test_settings(backend: Backend, smtp: &SmtpServer, addr: std::net::SocketAddr) -> (SettingsArgs, Scratch) {
    let (scratch, database_url) = Scratch::new(backend).await;
    let settings = SettingsArgs {
        data_dir: Some(scratch.data_dir.clone()),
        bind: Some(addr),
        base_url: Some(format!("http://{addr}")),
        smtp_url: Some(format!("smtp://127.0.0.1:{}", smtp.port)),
        mail_from: Some("Test Network <network@example.org>".into()),
        job_poll_ms: Some(50),
        database_url,
        ..Default::default()
    };
    (settings, scratch)
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut SettingsArgs)) -> TestApp {
    let smtp = SmtpServer::start();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (mut settings, scratch) = test_settings(backend, &smtp, addr).await;
    let data_dir = settings.data_dir.clone().unwrap();
    tweak(&mut settings);
    let config = Config::load(&settings).unwrap();
    let state = server::open_state(config).await.unwrap();
    tokio::spawn(server::serve(state.clone(), listener, std::future::pending()));
    TestApp { base: format!("http://{addr}"), client: client(), smtp, state, data_dir, _scratch: scratch }
}

/// The value of the first hidden `_csrf` field in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("no CSRF field in page:\n{html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// The value of the hidden field `name` in a page.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in page:\n{html}")) + marker.len();
    let raw = html[start..].split('"').next().unwrap();
    raw.replace("&#x2f;", "/").replace("&#x3f;", "?").replace("&#x3d;", "=").replace("&amp;", "&")
}

pub struct Page {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

impl Page {
    /// The id at the end of the address a successful create redirected to (`…/things/42`).
    pub fn created_id(&self) -> i64 {
        assert_eq!(self.status, 303, "{}", self.body);
        let location = self.location.as_deref().expect("a redirect");
        location.rsplit('/').next().and_then(|id| id.parse().ok()).expect("an id at the end of the redirect")
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.get_with(&self.client, path).await
    }

    pub async fn get_with(&self, client: &reqwest::Client, path: &str) -> Page {
        let r = client.get(self.url(path)).send().await.unwrap();
        to_page(r).await
    }

    /// Open `page` to get its CSRF token, then post `fields` to `action`, as a browser would.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        self.submit_with(&self.client, page, action, fields).await
    }

    pub async fn submit_with(
        &self,
        client: &reqwest::Client,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Page {
        let html = self.get_with(client, page).await.body;
        let token = csrf_in(&html);
        let mut all: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        let r = client.post(self.url(action)).form(&all).send().await.unwrap();
        to_page(r).await
    }

    /// Follow a redirect chain from a response, as a browser would.
    pub async fn follow(&self, mut page: Page) -> Page {
        while let Some(to) = page.location.clone() {
            page = self.get(&to).await;
        }
        page
    }

    /// Add a member straight into the database (for setting up a scenario).
    pub async fn add_member(&self, name: &str, email: &str, role: &str) -> i64 {
        let m = NewMember {
            display_name: name.into(),
            email: EmailAddress::parse(email).unwrap(),
            region: Some("Wales".into()),
            communities: vec!["Peer support".into()],
            consents: vec![(Purpose::Bulletin, true), (Purpose::Directory, false), (Purpose::Research, false)],
        };
        let mut conn = self.state.db.pool.acquire().await.unwrap();
        store::insert(&mut conn, &m, "active", role, 1_700_000_000).await.unwrap()
    }

    /// Sign in on this app's client through the emailed link, reading the link from the SMTP server.
    pub async fn sign_in(&self, email: &str) {
        self.sign_in_with(&self.client, email).await
    }

    pub async fn sign_in_with(&self, client: &reqwest::Client, email: &str) {
        let before = self.smtp.to(email).len();
        let r = self.submit_with(client, "/sign-in", "/sign-in", &[("email", email), ("return_to", "/me")]).await;
        assert_eq!(r.status, 303, "sign-in request: {}", r.body);
        let mail = self.smtp.wait_for(email, before + 1).await;
        let link = mail.link(&format!("{}/sign-in/link/", self.base));
        let r = self.submit_with(client, &link, &link, &[("return_to", "/me")]).await;
        assert_eq!(r.status, 303, "using the sign-in link: {}", r.body);
    }

    /// Wait until no job is queued to run now or running (mail sent, fan-outs done).
    pub async fn jobs_settled(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let busy: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM jobs WHERE status = 'running' OR (status = 'queued' AND run_at <= $1)",
            )
            .bind(constellate::core::time::now())
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap();
            if busy == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "{busy} jobs still busy after 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A client signed in as `member_id` without an emailed link (for an address the test
    /// SMTP server refuses).
    pub async fn client_signed_in_as(&self, member_id: i64) -> reqwest::Client {
        let sid = constellate::core::auth::start_session(&self.state.db, member_id).await.unwrap();
        let jar = Arc::new(reqwest::cookie::Jar::default());
        jar.add_cookie_str(&format!("sid={sid}"), &self.base.parse().unwrap());
        reqwest::Client::builder().cookie_provider(jar).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    pub async fn staff(&self, role: &str) -> reqwest::Client {
        let email = format!("{}-{role}@example.org", unique("staff"));
        self.add_member(&format!("Staff {role}"), &email, role).await;
        let c = client();
        self.sign_in_with(&c, &email).await;
        c
    }
}

async fn to_page(r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    let body = r.text().await.unwrap_or_default();
    Page { status, body, location }
}

/// Add `n` active members who chose to get the bulletin (reader0@example.net …).
pub async fn add_bulletin_readers(app: &TestApp, n: usize) {
    add_bulletin_readers_to(&app.state.db, n).await
}

pub async fn add_bulletin_readers_to(db: &constellate::core::db::Db, n: usize) {
    let people: Vec<NewMember> = (0..n)
        .map(|i| NewMember {
            display_name: format!("Reader {i}"),
            email: EmailAddress::parse(&format!("reader{i}@example.net")).unwrap(),
            region: None,
            communities: vec![],
            consents: vec![(Purpose::Bulletin, true), (Purpose::Directory, false), (Purpose::Research, false)],
        })
        .collect();
    let rows: Vec<(&NewMember, i64)> = people.iter().map(|m| (m, 1_700_000_000)).collect();
    let mut conn = db.pool.acquire().await.unwrap();
    store::insert_many(&mut conn, &rows, "active", "member").await.unwrap();
}
