//! Who may reach which route, declared in one place: every route is added through [`Routes`]
//! with an [`Access`] rule, and the role-matrix test walks the resulting table.
use axum::{
    extract::Request,
    handler::Handler,
    http::Method,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};

use crate::core::{
    auth::{Role, SessionUser, Status},
    context::{verify_csrf, Ctx, FORM_LIMIT},
    error::AppError,
    state::AppState,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in person, including one awaiting review: they can always reach their own data.
    SignedIn,
    /// An active member (approved, email confirmed).
    Member,
    /// An active member who is a contact of the group the path names, or staff. The guard
    /// checks the member; the handler checks the contact (`groups::routes::require_contact`).
    GroupContact,
    /// An active member on the panel of the round the path names (itself or through an
    /// application). Anyone else, staff included, finds no such page. The handler checks the panel.
    Panel,
    /// An active member whose own record the path names (their bulletin item, their grant
    /// application). Anyone else, staff included, finds no such page. The handler checks it.
    Owner,
    Staff,
    Admin,
}

impl Access {
    pub fn check(self, user: Option<&SessionUser>, path: &str) -> Result<(), AppError> {
        let sign_in = || AppError::SignInRequired { return_to: path.to_string() };
        match self {
            Access::Public => Ok(()),
            Access::SignedIn => user.map(|_| ()).ok_or_else(sign_in),
            Access::Member | Access::GroupContact | Access::Panel | Access::Owner => match user {
                None => Err(sign_in()),
                Some(u) if u.status == Status::Active => Ok(()),
                Some(_) => Err(AppError::Forbidden),
            },
            Access::Staff => match user {
                None => Err(sign_in()),
                Some(u) if matches!(u.role, Role::Staff | Role::Admin) => Ok(()),
                Some(_) => Err(AppError::Forbidden),
            },
            Access::Admin => match user {
                None => Err(sign_in()),
                Some(u) if u.role == Role::Admin => Ok(()),
                Some(_) => Err(AppError::Forbidden),
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// False only for POSTs authorised by a signed token in the path (one-click unsubscribe
    /// from a mail program), which no page of ours sends.
    pub csrf: bool,
}

/// A router that cannot hold a route without an access rule.
pub struct Routes {
    router: Router<AppState>,
    rules: Vec<Rule>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes { router: Router::new(), rules: Vec::new() }
    }
}

impl Routes {
    pub fn get<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, access, FORM_LIMIT, true, get(handler))
    }

    pub fn post<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, access, FORM_LIMIT, true, post(handler))
    }

    /// A public POST whose only authority is the signed token in its path (`{token}`), sent by
    /// mail programs rather than our pages, so it carries no CSRF field: RFC 8058 one-click
    /// unsubscribe. The handler must verify the token.
    pub fn post_by_token<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        assert!(path.contains("{token}"), "a token-authorised route needs a {{token}} in its path: {path}");
        self.add(Method::POST, path, Access::Public, FORM_LIMIT, false, post(handler))
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        limit: usize,
        csrf: bool,
        route: axum::routing::MethodRouter<AppState>,
    ) -> Self {
        let guarded = route
            .route_layer(middleware::from_fn(move |req: Request, next: Next| guard(access, limit, csrf, req, next)));
        self.router = self.router.route(path, guarded);
        self.rules.push(Rule { method, path, access, csrf });
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.rules.extend(other.rules);
        self
    }

    /// A POST route that accepts a larger body than ordinary forms (imports).
    pub fn post_with_limit<H, T>(self, path: &'static str, access: Access, limit: usize, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(
            Method::POST,
            path,
            access,
            limit,
            true,
            post(handler).layer(axum::extract::DefaultBodyLimit::max(limit)),
        )
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<Rule>) {
        (self.router, self.rules)
    }
}

/// Every route passes here: the access rule first, then, for a state-changing request, the
/// CSRF check, which reads the body within this route's size limit.
async fn guard(access: Access, limit: usize, csrf: bool, req: Request, next: Next) -> Response {
    let Some(ctx) = req.extensions().get::<Ctx>().cloned() else {
        return AppError::internal("context middleware missing").into_response();
    };
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if let Err(e) = access.check(ctx.user.as_ref(), path) {
        return e.into_response();
    }
    if req.method() == Method::GET || req.method() == Method::HEAD || !csrf {
        return next.run(req).await;
    }
    match verify_csrf(&ctx, req, limit).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}
