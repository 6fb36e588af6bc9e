//! The first-run steps of a merchant: Connect Sales Channel, Loyalty program, Weekly balance.
//! Each step is saved ("Save & Continue", once what it asks for exists) or skipped; the
//! merchant's users land here until every step is one or the other.

use super::channels::series_name;
use super::{merchant_page, DashForm, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use std::collections::HashMap;
use tillbridge_engine::merchants::Merchant;
use tillbridge_labor::departments;
use tillbridge_loyalty::{program, punch_cards};

struct Step {
    key: &'static str,
    title: &'static str,
    why: &'static str,
    /// Where the step is done, under the merchant's path, and the link's text.
    page: &'static str,
    action: &'static str,
    /// What Save & Continue asks for when it is missing.
    missing: &'static str,
}

const STEPS: [Step; 3] = [
    Step {
        key: "connect_channel",
        title: "Connect Sales Channel",
        why: "Connect the point of sale your orders come from. You sign in at Lightspeed and approve access; there is nothing to copy or paste.",
        page: "channels/new",
        action: "Connect a sales channel",
        missing: "No sales channel is connected yet: connect one first, or skip this step for now.",
    },
    Step {
        key: "loyalty_program",
        title: "Loyalty program",
        why: "Decide how members earn credit, and add punch cards for the categories you want to reward.",
        page: "loyalty",
        action: "Set up the loyalty program",
        missing: "The program has no earning rule and no punch card yet: set one up first, or skip this step for now.",
    },
    Step {
        key: "weekly_balance",
        title: "Weekly balance",
        why: "Say which POS location fills each department's weekly balance, and which fields your planning tool has.",
        page: "labor",
        action: "Set up departments",
        missing: "There is no department yet: add one first, or skip this step for now.",
    },
];

/// Whether the merchant still has steps to go.
pub(crate) async fn unfinished(s: &AppState, merchant_id: &str) -> Result<bool, Page> {
    let states = s.engine.onboarding(merchant_id).await?;
    Ok(STEPS
        .iter()
        .any(|step| !states.iter().any(|(k, _)| k == step.key)))
}

/// What the step has so far, as a sentence, and whether that is enough to continue.
async fn progress(s: &AppState, merchant_id: &str, step: &str) -> Result<(String, bool), Page> {
    Ok(match step {
        "connect_channel" => {
            let connected: Vec<String> = s
                .engine
                .connection_summaries(merchant_id)
                .await?
                .into_iter()
                .filter(|c| c.status == "connected")
                .map(|c| series_name(&c.series).to_owned())
                .collect();
            if connected.is_empty() {
                ("Nothing is connected yet.".to_owned(), false)
            } else {
                (format!("Connected: {}.", connected.join(", ")), true)
            }
        }
        "loyalty_program" => {
            let earning = program::get(&s.engine, merchant_id)
                .await?
                .earning
                .is_some();
            let cards = punch_cards::list(&s.engine, merchant_id).await?.len();
            (
                format!(
                    "Earning rule: {}. Punch cards: {cards}.",
                    if earning { "set" } else { "none" }
                ),
                earning || cards > 0,
            )
        }
        _ => {
            let n = departments::list(&s.engine, merchant_id).await?.len();
            (format!("Departments: {n}."), n > 0)
        }
    })
}

#[derive(Deserialize, Default)]
pub struct Which {
    step: Option<String>,
}

async fn render(
    s: &AppState,
    viewer: &Viewer,
    merchant: &Merchant,
    step: &Step,
    problem: Option<&str>,
) -> Result<Response, Page> {
    let states: HashMap<String, String> = s
        .engine
        .onboarding(&merchant.id)
        .await?
        .into_iter()
        .collect();
    let (so_far, _) = progress(s, &merchant.id, step.key).await?;
    let base = format!("/merchants/{}", merchant.id);
    let body = html! {
        h1 { "Get started" }
        ol.steps #steps {
            @for st in &STEPS {
                li class=[(st.key == step.key).then_some("open")] data-step=(st.key) data-state=(states.get(st.key).map_or("open", String::as_str)) {
                    a href=(format!("{base}/onboarding?step={}", st.key)) { (st.title) }
                    @match states.get(st.key).map(String::as_str) {
                        Some("done") => span.muted { " · done" },
                        Some(_) => span.muted { " · skipped" },
                        None => {},
                    }
                }
            }
        }
        div.card #onboarding-step data-step=(step.key) {
            h2 #step-title { (step.title) }
            p { (step.why) }
            p #step-progress { (so_far) }
            p { a.button #step-action href=(format!("{base}/{}", step.page)) { (step.action) } }
            form method="post" action=(format!("{base}/onboarding/{}", step.key)) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                @if let Some(p) = problem {
                    div.field-error #onboarding-error role="alert" { (p) }
                }
                p {
                    button.primary #continue type="submit" name="action" value="continue" { "Save & Continue" }
                    " "
                    button #skip type="submit" name="action" value="skip" { "Skip for now" }
                }
            }
        }
    };
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(merchant_page(
        viewer,
        merchant,
        "onboarding",
        status,
        "Get started",
        body,
    ))
}

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    Query(which): Query<Which>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let step = match which.step.as_deref() {
        Some(k) => STEPS
            .iter()
            .find(|st| st.key == k)
            .ok_or_else(Page::not_found)?,
        None => {
            let states = s.engine.onboarding(&merchant_id).await?;
            match STEPS
                .iter()
                .find(|st| !states.iter().any(|(k, _)| k == st.key))
            {
                Some(step) => step,
                None => {
                    return Ok(Redirect::to(&format!(
                        "/merchants/{merchant_id}/channels?done=onboarded"
                    ))
                    .into_response())
                }
            }
        }
    };
    render(&s, &viewer, &merchant, step, None).await
}

#[derive(Deserialize)]
pub struct Decision {
    #[serde(default)]
    action: String,
}

pub async fn decide(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, step)): Path<(String, String)>,
    DashForm(form): DashForm<Decision>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let step = STEPS
        .iter()
        .find(|st| st.key == step)
        .ok_or_else(Page::not_found)?;
    let state = match form.action.as_str() {
        "continue" => {
            let (_, ready) = progress(&s, &merchant_id, step.key).await?;
            if !ready {
                return render(&s, &viewer, &merchant, step, Some(step.missing)).await;
            }
            "done"
        }
        "skip" => "skipped",
        other => {
            let problem =
                format!("`{other}` is not a choice: use Save & Continue or Skip for now.");
            return render(&s, &viewer, &merchant, step, Some(&problem)).await;
        }
    };
    s.engine
        .set_onboarding(&merchant_id, step.key, state, &viewer.user.email)
        .await?;
    Ok(Redirect::to(&format!("/merchants/{merchant_id}/onboarding")).into_response())
}
