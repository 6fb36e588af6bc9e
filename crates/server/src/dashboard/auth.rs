//! Signing in and out, and the page everyone lands on.

use super::{
    cookie, document, respond, set_cookie, DashForm, Page, Viewer, LOGIN_COOKIE, SESSION_COOKIE,
};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use tillbridge_engine::users::{self, generate_password, SESSION_MS};

/// Administrators get the merchants; a merchant's user goes straight to their merchant.
pub async fn home(State(s): State<AppState>, viewer: Viewer) -> Result<Response, Page> {
    if let Some(own) = &viewer.user.merchant_id {
        let first = if super::onboarding::unfinished(&s, own).await? {
            "onboarding"
        } else {
            "channels"
        };
        return Ok(Redirect::to(&format!("/merchants/{own}/{first}")).into_response());
    }
    let merchants = s.engine.merchants().await?;
    let body = html! {
        h1 { "Merchants" }
        @if merchants.is_empty() {
            p.muted { "No merchants yet. Create one with the API (POST /api/v1/merchants)." }
        }
        div.cards {
            @for m in &merchants {
                a.card href=(format!("/merchants/{}/channels", m.id)) data-merchant=(m.id) {
                    strong { (m.name) }
                    div.muted { (m.timezone) " · " (m.currency) }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        document(
            "Merchants",
            None,
            html! { p.muted { "Signed in as " (viewer.user.email) " (administrator) " (super::sign_out_form(&viewer)) } (body) },
        ),
    ))
}

fn sign_in_form(token: &str, email: &str, problem: Option<&str>) -> maud::Markup {
    let body = html! {
        div.signin.card {
            h1 { "Sign in" }
            @if let Some(problem) = problem {
                p.problem #problem role="alert" { (problem) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                label for="email" { "E-mail" }
                input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                p { button.primary #sign-in type="submit" { "Sign in" } }
            }
        }
    };
    document("Sign in", None, body)
}

/// The sign-in form, with a fresh double-submit token in a cookie of its own.
pub async fn sign_in_page(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let token = cookie(&headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 20 && t.chars().all(|c| c.is_ascii_alphanumeric()))
        .map_or_else(generate_password, str::to_owned);
    let mut r = respond(StatusCode::OK, sign_in_form(&token, "", None));
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s, LOGIN_COOKIE, &token, 3600),
    );
    r
}

#[derive(Deserialize)]
pub struct SignIn {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn sign_in(
    State(s): State<AppState>,
    headers: HeaderMap,
    DashForm(form): DashForm<SignIn>,
) -> Result<Response, Page> {
    let token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let attempt = if form.email.trim().is_empty() || form.password.is_empty() {
        Err((
            StatusCode::UNAUTHORIZED,
            "Enter your e-mail and your password.".to_owned(),
        ))
    } else {
        match s.engine.sign_in(&form.email, &form.password).await? {
            users::SignIn::Session(session) => Ok(session),
            users::SignIn::Refused => Err((
                StatusCode::UNAUTHORIZED,
                "The e-mail or the password is wrong.".to_owned(),
            )),
            users::SignIn::Wait { minutes } => Err((
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed sign-ins for this e-mail. Try again in {minutes} minute(s), or ask an administrator to set a new password (tillbridge users password)."
                ),
            )),
        }
    };
    let session = match attempt {
        Ok(session) => session,
        Err((status, problem)) => {
            tracing::info!(%status, "dashboard sign-in refused");
            return Ok(respond(
                status,
                sign_in_form(token, form.email.trim(), Some(&problem)),
            ));
        }
    };
    tracing::info!(user_id = %session.user.id, "dashboard sign-in");
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s, SESSION_COOKIE, &session.token, SESSION_MS / 1000),
    );
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&s, LOGIN_COOKIE, "", 0));
    Ok(r)
}

pub async fn sign_out(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, Page> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        s.engine.sign_out(token).await?;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(&s, SESSION_COOKIE, "", 0));
    Ok(r)
}
