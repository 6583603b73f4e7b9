//! `/api/v1/auth/*`: registration, login, refresh, logout, sessions and
//! password changes. Each handler parses, calls one use case, and maps the
//! result.

use std::sync::Arc;

use application::auth::{AuthService, IssuedSession, LogoutScope, Registration, SessionView};
use domain::{DisplayName, Email, Password, RefreshToken, SessionId, User, ValidationErrors};
use poem::Request;
use poem::http::header;
use poem::web::cookie::{Cookie, SameSite};
use poem_openapi::param::{Cookie as CookieParam, Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use secrecy::SecretString;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::context::RequestContext;
use crate::envelope::Envelope;
use crate::error::{ApiError, ErrorCode};
use crate::payload::OptionalJson;
use crate::security::BearerAuth;

pub const REFRESH_COOKIE: &str = "roster_refresh";

/// What a `Debug` of a request or an answer shows in place of a secret.
pub(crate) const REDACTED: Redacted = Redacted;

/// Stands in for a secret in a `Debug`: passwords, refresh and access
/// tokens never reach a log line, even through a `{:?}` of a whole body.
#[derive(Clone, Copy)]
pub(crate) struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}
const REFRESH_COOKIE_PATH: &str = "/api/v1/auth";

#[derive(Tags)]
enum AuthTag {
    /// Accounts, logins and sessions.
    Auth,
}

/// Settings the auth routes need from configuration.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    /// `Secure` cookies (the public URL is https).
    pub secure: bool,
    /// Origins allowed to use the refresh cookie.
    pub allowed_origins: Vec<String>,
}

pub struct AuthApi {
    pub auth: Arc<AuthService>,
    pub cookies: CookiePolicy,
}

// --- Request bodies -------------------------------------------------------

#[derive(Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterRequest {
    /// Trimmed and lower-cased; unique.
    #[oai(deserialize_with = "crate::fields::email", validator(max_length = 254))]
    email: String,
    /// 8–128 characters, not one of the 10,000 most common passwords.
    #[oai(
        deserialize_with = "crate::fields::password",
        validator(min_length = 8, max_length = 128)
    )]
    password: String,
    /// 1–50 characters after trimming.
    #[oai(
        deserialize_with = "crate::fields::display_name",
        validator(min_length = 1, max_length = 50)
    )]
    display_name: String,
}

impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("display_name", &self.display_name)
            .finish()
    }
}

impl TryFrom<RegisterRequest> for Registration {
    type Error = ValidationErrors;

    fn try_from(body: RegisterRequest) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let email = errors.collect(Email::parse(&body.email));
        let password = errors.collect(Password::parse(&body.password, "password"));
        let display_name = errors.collect(DisplayName::parse(&body.display_name));
        match (email, password, display_name) {
            (Some(email), Some(password), Some(display_name)) => Ok(Self {
                email,
                password,
                display_name,
            }),
            _ => Err(errors),
        }
    }
}

// A login keeps its e-mail as text: one that does not parse must still
// cost a dummy verification and read as invalid credentials, so the use
// case decides. (A plain comment: a doc comment would enter the document.)
#[derive(Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct LoginRequest {
    #[oai(deserialize_with = "crate::fields::email", validator(max_length = 254))]
    email: String,
    #[oai(
        deserialize_with = "crate::fields::password",
        validator(max_length = 128)
    )]
    password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .finish()
    }
}

#[derive(Object, Default)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct RefreshRequest {
    /// The refresh token; when absent, the `roster_refresh` cookie is used.
    #[oai(deserialize_with = "crate::fields::refresh_token")]
    #[oai(nullable)]
    refresh_token: Option<String>,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Enum, Default)]
#[oai(rename_all = "lowercase")]
enum Scope {
    /// This session only (default).
    #[default]
    Local,
    /// Every other session of the user.
    Others,
    /// Every session of the user.
    Global,
}

#[derive(Object, Default)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct LogoutRequest {
    #[oai(deserialize_with = "crate::fields::absent_or")]
    scope: Option<Scope>,
    /// Identifies the session when no bearer token is sent; else the cookie.
    #[oai(deserialize_with = "crate::fields::refresh_token")]
    #[oai(nullable)]
    refresh_token: Option<String>,
}

impl std::fmt::Debug for LogoutRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutRequest")
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .finish()
    }
}

#[derive(Object)]
#[oai(rename_all = "camelCase", deny_unknown_fields)]
struct ChangePasswordRequest {
    #[oai(
        deserialize_with = "crate::fields::current_password",
        validator(max_length = 128)
    )]
    current_password: String,
    /// 8–128 characters, not one of the 10,000 most common passwords.
    #[oai(
        deserialize_with = "crate::fields::new_password",
        validator(min_length = 8, max_length = 128)
    )]
    new_password: String,
}

impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordRequest")
            .field("current_password", &REDACTED)
            .field("new_password", &REDACTED)
            .finish()
    }
}

// --- Answers --------------------------------------------------------------

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum RoleDto {
    User,
    Admin,
}

impl From<domain::Role> for RoleDto {
    fn from(role: domain::Role) -> Self {
        match role {
            domain::Role::User => Self::User,
            domain::Role::Admin => Self::Admin,
        }
    }
}

impl From<RoleDto> for domain::Role {
    fn from(role: RoleDto) -> Self {
        match role {
            RoleDto::User => Self::User,
            RoleDto::Admin => Self::Admin,
        }
    }
}

/// A registered user.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserDto {
    id: Uuid,
    email: String,
    display_name: String,
    role: RoleDto,
    created_at: OffsetDateTime,
}

impl From<User> for UserDto {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            role: user.role.into(),
            created_at: user.created_at,
        }
    }
}

/// Tokens for a new or refreshed session.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
struct AuthSessionDto {
    user: UserDto,
    session_id: Uuid,
    /// PASETO v4.public; send as `Authorization: Bearer …`.
    access_token: String,
    access_token_expires_at: OffsetDateTime,
    /// Opaque; also set in the `roster_refresh` cookie.
    refresh_token: String,
    refresh_token_expires_at: OffsetDateTime,
}

impl std::fmt::Debug for AuthSessionDto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSessionDto")
            .field("user", &self.user)
            .field("session_id", &self.session_id)
            .field("access_token", &REDACTED)
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("refresh_token", &REDACTED)
            .field("refresh_token_expires_at", &self.refresh_token_expires_at)
            .finish()
    }
}

/// One active session of the caller.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
struct SessionDto {
    id: Uuid,
    created_at: OffsetDateTime,
    last_used_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    #[oai(nullable)]
    user_agent: Option<String>,
    #[oai(nullable)]
    ip: Option<String>,
    /// Whether this is the session of the request.
    current: bool,
}

impl From<SessionView> for SessionDto {
    fn from(view: SessionView) -> Self {
        let s = view.session;
        Self {
            id: s.id.as_uuid(),
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent,
            ip: s.ip,
            current: view.current,
        }
    }
}

#[derive(ApiResponse)]
enum Registered {
    /// Registered and logged in.
    #[oai(status = 201)]
    Created(
        Json<Envelope<AuthSessionDto>>,
        #[oai(header = "Set-Cookie")] String,
    ),
}

#[derive(ApiResponse)]
enum SessionIssued {
    /// Logged in or refreshed.
    #[oai(status = 200)]
    Ok(
        Json<Envelope<AuthSessionDto>>,
        #[oai(header = "Set-Cookie")] String,
    ),
}

#[derive(ApiResponse)]
enum LoggedOut {
    /// The sessions are revoked; the cookie is cleared for a local logout.
    #[oai(status = 204)]
    NoContent(#[oai(header = "Set-Cookie")] Option<String>),
}

#[derive(ApiResponse)]
enum NoContent {
    #[oai(status = 204)]
    Done,
}

type ApiResult<T> = Result<T, ApiError>;

#[OpenApi(prefix_path = "/api/v1/auth", tag = "AuthTag::Auth")]
impl AuthApi {
    /// Create an account
    ///
    /// Registers and logs in. Answers 409 when the e-mail is taken.
    #[oai(path = "/register", method = "post", operation_id = "auth.register")]
    async fn register(&self, body: Json<RegisterRequest>) -> ApiResult<Registered> {
        let input = Registration::try_from(body.0).map_err(|e| ApiError::validation(&e))?;
        let issued = self.auth.register(input, &RequestContext::client()).await?;
        let cookie = self.refresh_cookie(&issued);
        Ok(Registered::Created(
            Json(Envelope::new(issued.into())),
            cookie,
        ))
    }

    /// Log in
    ///
    /// One answer, 401, for an unknown e-mail and a wrong password alike;
    /// 403 for a disabled account, only after a correct password.
    #[oai(path = "/login", method = "post", operation_id = "auth.login")]
    async fn login(&self, body: Json<LoginRequest>) -> ApiResult<SessionIssued> {
        let LoginRequest { email, password } = body.0;
        let issued = self
            .auth
            .login(
                &email,
                SecretString::from(password),
                &RequestContext::client(),
            )
            .await?;
        let cookie = self.refresh_cookie(&issued);
        Ok(SessionIssued::Ok(
            Json(Envelope::new(issued.into())),
            cookie,
        ))
    }

    /// Refresh the session
    ///
    /// Rotates the refresh token (from the body, else the `roster_refresh`
    /// cookie, whose request must come from an allowed `Origin`). A retry
    /// within the grace window gets the same new session; a reused older
    /// token revokes the whole family.
    #[oai(path = "/refresh", method = "post", operation_id = "auth.refresh")]
    async fn refresh(
        &self,
        body: OptionalJson<RefreshRequest>,
        #[oai(name = "roster_refresh")] cookie: CookieParam<Option<String>>,
        #[oai(name = "Origin")] origin: Header<Option<String>>,
    ) -> ApiResult<SessionIssued> {
        let from_body = body.0.and_then(|b| b.refresh_token);
        let token = self.refresh_token(from_body, cookie.0, origin.0.as_deref())?;
        let issued = self.auth.refresh(&token, &RequestContext::client()).await?;
        let cookie = self.refresh_cookie(&issued);
        Ok(SessionIssued::Ok(
            Json(Envelope::new(issued.into())),
            cookie,
        ))
    }

    /// Log out
    ///
    /// Identifies the session by the bearer token, else by the refresh token
    /// (body or cookie). `local` ends this session and clears the cookie,
    /// `others` every other session of the user, `global` all of them.
    #[oai(path = "/logout", method = "post", operation_id = "auth.logout")]
    async fn logout(
        &self,
        req: &Request,
        body: OptionalJson<LogoutRequest>,
        #[oai(name = "roster_refresh")] cookie: CookieParam<Option<String>>,
        #[oai(name = "Origin")] origin: Header<Option<String>>,
    ) -> ApiResult<LoggedOut> {
        let body = body.0.unwrap_or_default();
        let principal = match bearer_token(req) {
            Some(token) => self.auth.authenticate(token).await?,
            None => {
                let token =
                    self.refresh_token(body.refresh_token, cookie.0, origin.0.as_deref())?;
                self.auth.principal_from_refresh(&token).await?
            }
        };
        RequestContext::record_user(principal.user_id);
        let scope = match body.scope.unwrap_or_default() {
            Scope::Local => LogoutScope::Local,
            Scope::Others => LogoutScope::Others,
            Scope::Global => LogoutScope::Global,
        };
        self.auth
            .logout(&principal, scope, &RequestContext::client())
            .await?;
        let clear =
            matches!(scope, LogoutScope::Local | LogoutScope::Global).then(|| self.clear_cookie());
        Ok(LoggedOut::NoContent(clear))
    }

    /// The current user
    #[oai(path = "/me", method = "get", operation_id = "auth.me")]
    async fn me(&self, auth: BearerAuth) -> ApiResult<Json<Envelope<UserDto>>> {
        let user = self.auth.me(&auth.0).await?;
        Ok(Json(Envelope::new(user.into())))
    }

    /// The caller's active sessions
    #[oai(
        path = "/sessions",
        method = "get",
        operation_id = "auth.sessions.list"
    )]
    async fn sessions(&self, auth: BearerAuth) -> ApiResult<Json<Envelope<Vec<SessionDto>>>> {
        let sessions = self.auth.sessions(&auth.0).await?;
        Ok(Json(Envelope::new(
            sessions.into_iter().map(Into::into).collect(),
        )))
    }

    /// End one of the caller's sessions
    ///
    /// 404 when it is not an active session of the caller.
    #[oai(
        path = "/sessions/:id",
        method = "delete",
        operation_id = "auth.sessions.revoke"
    )]
    async fn revoke_session(
        &self,
        auth: BearerAuth,
        /// The session's id (a UUID).
        id: Path<crate::fields::UuidText>,
    ) -> ApiResult<NoContent> {
        let id = crate::fields::path_uuid("id", &id.0)?;
        self.auth
            .revoke_session(&auth.0, SessionId::from_uuid(id), &RequestContext::client())
            .await?;
        Ok(NoContent::Done)
    }

    /// Change the password
    ///
    /// Every other session of the user is revoked.
    #[oai(path = "/password", method = "post", operation_id = "auth.password")]
    async fn change_password(
        &self,
        auth: BearerAuth,
        body: Json<ChangePasswordRequest>,
    ) -> ApiResult<NoContent> {
        let ChangePasswordRequest {
            current_password,
            new_password,
        } = body.0;
        let new_password = Password::parse(&new_password, "newPassword")
            .map_err(|e| ApiError::validation(&ValidationErrors(vec![e])))?;
        self.auth
            .change_password(
                &auth.0,
                SecretString::from(current_password),
                new_password,
                &RequestContext::client(),
            )
            .await?;
        Ok(NoContent::Done)
    }
}

impl AuthApi {
    /// The refresh token from the body, else from the cookie — which counts
    /// only when the request comes from an allowed origin (CSRF defence).
    fn refresh_token(
        &self,
        from_body: Option<String>,
        from_cookie: Option<String>,
        origin: Option<&str>,
    ) -> ApiResult<RefreshToken> {
        if let Some(token) = from_body {
            return Ok(RefreshToken::from_client(&token));
        }
        let Some(token) = from_cookie else {
            return Err(ApiError::unauthenticated());
        };
        match origin {
            Some(origin) if self.cookies.allowed_origins.iter().any(|o| o == origin) => {
                Ok(RefreshToken::from_client(&token))
            }
            _ => Err(ApiError::new(
                ErrorCode::Forbidden,
                "the refresh cookie is accepted only from an allowed Origin",
            )),
        }
    }

    fn refresh_cookie(&self, issued: &IssuedSession) -> String {
        let mut cookie = Cookie::new_with_str(REFRESH_COOKIE, issued.refresh_token.expose());
        let max_age = issued.refresh_token_expires_at - RequestContext::now();
        cookie.set_max_age(std::time::Duration::from_secs(
            max_age.whole_seconds().max(0) as u64,
        ));
        self.finish_cookie(cookie)
    }

    fn clear_cookie(&self) -> String {
        let mut cookie = Cookie::new_with_str(REFRESH_COOKIE, "");
        cookie.set_max_age(std::time::Duration::ZERO);
        self.finish_cookie(cookie)
    }

    fn finish_cookie(&self, mut cookie: Cookie) -> String {
        cookie.set_path(REFRESH_COOKIE_PATH);
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_secure(self.cookies.secure);
        cookie.to_string()
    }
}

fn bearer_token(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

impl From<IssuedSession> for AuthSessionDto {
    fn from(issued: IssuedSession) -> Self {
        Self {
            session_id: issued.session_id.as_uuid(),
            access_token: issued.access_token.into_exposed(),
            access_token_expires_at: issued.access_token_expires_at,
            refresh_token: issued.refresh_token.expose().to_owned(),
            refresh_token_expires_at: issued.refresh_token_expires_at,
            user: issued.user.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cret-Value-that-must-not-leak";

    fn assert_hidden(debug: String) {
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }

    #[test]
    fn request_bodies_with_a_secret_never_show_it() {
        assert_hidden(format!(
            "{:?}",
            RegisterRequest {
                email: "ana@example.com".into(),
                password: SECRET.into(),
                display_name: "Ana".into(),
            }
        ));
        assert_hidden(format!(
            "{:?}",
            LoginRequest {
                email: "ana@example.com".into(),
                password: SECRET.into(),
            }
        ));
        assert_hidden(format!(
            "{:?}",
            RefreshRequest {
                refresh_token: Some(SECRET.into()),
            }
        ));
        assert_hidden(format!(
            "{:?}",
            LogoutRequest {
                scope: Some(Scope::Global),
                refresh_token: Some(SECRET.into()),
            }
        ));
        assert_hidden(format!(
            "{:?}",
            ChangePasswordRequest {
                current_password: SECRET.into(),
                new_password: format!("new-{SECRET}"),
            }
        ));
    }

    #[test]
    fn a_session_answer_never_shows_its_tokens() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let answer = AuthSessionDto {
            user: UserDto {
                id: Uuid::nil(),
                email: "ana@example.com".into(),
                display_name: "Ana".into(),
                role: RoleDto::User,
                created_at: now,
            },
            session_id: Uuid::nil(),
            access_token: format!("v4.public.{SECRET}"),
            access_token_expires_at: now,
            refresh_token: format!("refresh-{SECRET}"),
            refresh_token_expires_at: now,
        };
        let debug = format!("{answer:?}");
        assert_hidden(debug.clone());
        assert!(debug.contains("ana@example.com"), "{debug}");
    }
}
