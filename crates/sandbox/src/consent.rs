//! The merchant-facing pages of every OAuth dialect: a consent page with a real sign-in form,
//! an error page, and the redirect back to the client.

use crate::http::{escape_html, html};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

pub fn error_page(message: &str) -> Response {
    html(
        StatusCode::BAD_REQUEST,
        format!(
            "<!doctype html><html><head><title>Authorization error</title></head><body><h1>Authorization error</h1><p id=\"error\">{}</p></body></html>",
            escape_html(message)
        ),
    )
}

/// The sign-in form: `hidden` fields are carried through the POST to `action`.
pub fn page(
    product: &str,
    action: &str,
    scope: &str,
    hidden: &[(&str, &Option<String>)],
    error: Option<&str>,
) -> Response {
    let fields: String = hidden
        .iter()
        .filter_map(|(name, value)| {
            value.as_ref().map(|v| {
                format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    escape_html(v)
                )
            })
        })
        .collect();
    let error_html = error
        .map(|e| format!("<p id=\"error\" role=\"alert\">{}</p>", escape_html(e)))
        .unwrap_or_default();
    html(
        if error.is_some() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        },
        format!(
            r#"<!doctype html>
<html><head><meta charset="utf-8"><title>{product} — Authorize</title></head>
<body>
<main>
<h1>{product} (sandbox)</h1>
<p>An application is asking for access to your store: <code>{scope}</code></p>
{error_html}
<form method="post" action="{action}">
{fields}
<label>E-mail <input type="text" name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit" name="decision" value="allow" id="authorize">Authorize</button>
<button type="submit" name="decision" value="deny" id="deny" formnovalidate>Deny</button>
</form>
</main>
</body></html>"#,
            scope = escape_html(scope),
        ),
    )
}

/// Redirects the browser to `redirect_uri` with `params` added to its query.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return error_page("invalid redirect_uri"),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
            q.append_pair(k, v);
        }
    }
    Redirect::to(url.as_str()).into_response()
}
