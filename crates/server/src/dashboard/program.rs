//! Loyalty program: the earning rule, spend tiers and punch cards. The punch card's category
//! picker lists the categories each connection's catalog stream synced.
//!
//! Every form is checked field by field first; a refused form comes back with what was typed
//! and the reason beside the field, and nothing is saved.

use super::channels::channel_label;
use super::form::{self, amount, count, Fields, Problems};
use super::{merchant_page, DashForm, Done, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use std::collections::HashMap;
use tillbridge_engine::merchants::Merchant;
use tillbridge_loyalty::cards::{CategoryRef, StampMode};
use tillbridge_loyalty::earning::EarningRule;
use tillbridge_loyalty::eligible::TaxBasis;
use tillbridge_loyalty::program::{self, Program, TierSettings};
use tillbridge_loyalty::punch_cards::{self, CardInput, CardView};
use tillbridge_loyalty::tiers::{DowngradePolicy, SpendWindow, Tier};
use tillbridge_model::decimal_minor;

/// Empty rows under the tiers, for adding new ones.
const BLANK_TIER_ROWS: usize = 2;
/// The most tier rows a form may send.
const MAX_TIER_ROWS: usize = 50;

const NOTICES: &[(&str, &str)] = &[
    (
        "earning",
        "Earning rule saved. It applies to purchases that earn from now on.",
    ),
    (
        "tiers",
        "Tiers saved. Members move to their new tier with their next purchase or the nightly check.",
    ),
    (
        "card_created",
        "Punch card created. It stamps purchases from now on.",
    ),
    ("card_saved", "Punch card saved."),
];

fn page(
    viewer: &Viewer,
    merchant: &Merchant,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    merchant_page(viewer, merchant, "loyalty", status, title, body)
}

// ----- the earning rule -----

/// The earning form as typed.
struct Earning {
    mode: String,
    step: String,
    reward: String,
    tax_basis: String,
    allow_negative: bool,
    claim_window_days: String,
}

impl Earning {
    fn of(p: &Program, currency: &str) -> Earning {
        let (mode, step, reward) = match &p.earning {
            None => ("none", String::new(), String::new()),
            Some(EarningRule::Step {
                step_minor,
                reward_minor,
            }) => (
                "step",
                decimal_minor(*step_minor, currency),
                decimal_minor(*reward_minor, currency),
            ),
            Some(EarningRule::Proportional {
                step_minor,
                reward_minor,
            }) => (
                "proportional",
                decimal_minor(*step_minor, currency),
                decimal_minor(*reward_minor, currency),
            ),
        };
        Earning {
            mode: mode.to_owned(),
            step,
            reward,
            tax_basis: match p.tax_basis {
                TaxBasis::ExcludingTax => "excluding_tax",
                TaxBasis::IncludingTax => "including_tax",
            }
            .to_owned(),
            allow_negative: p.allow_negative_balance,
            claim_window_days: p.claim_window_days.to_string(),
        }
    }

    fn sent(f: &Fields) -> Earning {
        Earning {
            mode: f.get("mode").to_owned(),
            step: f.get("step").to_owned(),
            reward: f.get("reward").to_owned(),
            tax_basis: f.get("tax_basis").to_owned(),
            allow_negative: f.ticked("allow_negative"),
            claim_window_days: f.get("claim_window_days").to_owned(),
        }
    }

    /// The program with this rule, or what is wrong with the form.
    fn apply(&self, mut p: Program, currency: &str, problems: &mut Problems) -> Program {
        let mut money = |field: &str, raw: &str, what: &str| -> i64 {
            if raw.is_empty() {
                problems.add(field, format!("Enter {what}, like 10.00."));
                return 0;
            }
            amount(raw, currency).unwrap_or_else(|m| {
                problems.add(field, m);
                0
            })
        };
        p.earning = match self.mode.as_str() {
            "none" => None,
            mode @ ("step" | "proportional") => {
                let step_minor = money("step", &self.step, "the amount a member spends per step");
                let reward_minor = money("reward", &self.reward, "the credit a step earns");
                if step_minor == 0 && problems.of("step").is_none() {
                    problems.add("step", "The step must be more than zero.");
                }
                Some(if mode == "step" {
                    EarningRule::Step {
                        step_minor,
                        reward_minor,
                    }
                } else {
                    EarningRule::Proportional {
                        step_minor,
                        reward_minor,
                    }
                })
            }
            other => {
                problems.add(
                    "mode",
                    format!("`{other}` is not a way to earn; pick one from the list."),
                );
                None
            }
        };
        p.tax_basis = match self.tax_basis.as_str() {
            "including_tax" => TaxBasis::IncludingTax,
            "excluding_tax" => TaxBasis::ExcludingTax,
            other => {
                problems.add(
                    "tax_basis",
                    format!("`{other}` is not a choice; pick one from the list."),
                );
                p.tax_basis
            }
        };
        p.allow_negative_balance = self.allow_negative;
        match count(&self.claim_window_days, 0..=3650) {
            Ok(days) => p.claim_window_days = days,
            Err(m) => problems.add("claim_window_days", m),
        }
        p
    }

    fn form(&self, base: &str, csrf: &str, currency: &str, problems: &Problems) -> Markup {
        html! {
            form.card #earning method="post" action=(format!("{base}/earning")) novalidate {
                input type="hidden" name="csrf" value=(csrf);
                @if let Some(m) = problems.of("form") {
                    p.problem #earning-problem role="alert" { (m) }
                }
                label for="mode" { "How members earn credit" }
                select #mode name="mode" aria-invalid=[problems.invalid("mode")] {
                    option value="none" selected[self.mode == "none"] { "They earn no credit automatically" }
                    option value="step" selected[self.mode == "step"] { "Whole steps: the reward for every full step spent" }
                    option value="proportional" selected[self.mode == "proportional"] { "Proportional: every cent counts" }
                }
                (problems.show("mode"))
                label for="step" { "Step (" (currency) " spent)" }
                input #step type="text" inputmode="decimal" name="step" value=(self.step) placeholder="10.00" aria-invalid=[problems.invalid("step")];
                (problems.show("step"))
                label for="reward" { "Credit per step (" (currency) ")" }
                input #reward type="text" inputmode="decimal" name="reward" value=(self.reward) placeholder="1.00" aria-invalid=[problems.invalid("reward")];
                (problems.show("reward"))
                label for="tax_basis" { "Amounts that earn" }
                select #tax_basis name="tax_basis" aria-invalid=[problems.invalid("tax_basis")] {
                    option value="excluding_tax" selected[self.tax_basis == "excluding_tax"] { "Excluding tax" }
                    option value="including_tax" selected[self.tax_basis == "including_tax"] { "Including tax" }
                }
                (problems.show("tax_basis"))
                label for="claim_window_days" { "Claim window (days a new member's earlier orders count)" }
                input #claim_window_days type="number" min="0" max="3650" name="claim_window_days" value=(self.claim_window_days) aria-invalid=[problems.invalid("claim_window_days")];
                (problems.show("claim_window_days"))
                label.check {
                    input #allow_negative type="checkbox" name="allow_negative" value="on" checked[self.allow_negative];
                    " A refund of credit already spent may take the balance below zero"
                }
                p { button.primary #save-earning type="submit" { "Save earning rule" } }
            }
        }
    }
}

// ----- tiers -----

/// One tier row as typed.
struct TierRow {
    id: String,
    name: String,
    threshold: String,
}

struct Tiers {
    rows: Vec<TierRow>,
    window: String,
    policy: String,
}

impl Tiers {
    fn of(p: &Program, currency: &str) -> Tiers {
        let (rows, window, policy) = match &p.tiers {
            Some(t) => (
                t.tiers
                    .iter()
                    .map(|t| TierRow {
                        id: t.id.clone(),
                        name: t.name.clone(),
                        threshold: decimal_minor(t.threshold_minor, currency),
                    })
                    .collect(),
                t.window,
                t.policy,
            ),
            None => (
                Vec::new(),
                SpendWindow::default(),
                DowngradePolicy::default(),
            ),
        };
        Tiers {
            rows,
            window: match window {
                SpendWindow::Rolling365Days => "rolling_365_days",
                SpendWindow::Lifetime => "lifetime",
            }
            .to_owned(),
            policy: match policy {
                DowngradePolicy::Never => "never",
                DowngradePolicy::Immediate => "immediate",
                DowngradePolicy::Hold => "hold",
            }
            .to_owned(),
        }
    }

    fn sent(f: &Fields) -> Tiers {
        let rows = (0..MAX_TIER_ROWS)
            .take_while(|i| f.ticked(&format!("tier_name_{i}")))
            .map(|i| TierRow {
                id: f.get(&format!("tier_id_{i}")).to_owned(),
                name: f.get(&format!("tier_name_{i}")).to_owned(),
                threshold: f.get(&format!("tier_threshold_{i}")).to_owned(),
            })
            .filter(|r| !r.name.is_empty() || !r.threshold.is_empty())
            .collect();
        Tiers {
            rows,
            window: f.get("window").to_owned(),
            policy: f.get("policy").to_owned(),
        }
    }

    fn apply(&self, mut p: Program, currency: &str, problems: &mut Problems) -> Program {
        let mut tiers: Vec<Tier> = Vec::new();
        for (i, row) in self.rows.iter().enumerate() {
            if row.name.is_empty() {
                problems.add(
                    &format!("tier_name_{i}"),
                    "Name the tier, or clear its spend to remove it.",
                );
                continue;
            }
            let threshold_minor = if row.threshold.is_empty() {
                problems.add(
                    &format!("tier_threshold_{i}"),
                    "Enter the spend that reaches this tier, like 500.00.",
                );
                continue;
            } else {
                match amount(&row.threshold, currency) {
                    Ok(v) => v,
                    Err(m) => {
                        problems.add(&format!("tier_threshold_{i}"), m);
                        continue;
                    }
                }
            };
            if let Some(same) = tiers
                .iter()
                .position(|t| t.threshold_minor == threshold_minor)
            {
                problems.add(
                    &format!("tier_threshold_{i}"),
                    format!(
                        "`{}` needs the same spend already; give each tier its own.",
                        tiers[same].name
                    ),
                );
                continue;
            }
            if tiers.iter().any(|t| t.name.eq_ignore_ascii_case(&row.name)) {
                problems.add(&format!("tier_name_{i}"), "Another tier has this name.");
                continue;
            }
            let id = if row.id.is_empty() {
                new_tier_id(&row.name, &tiers)
            } else {
                row.id.clone()
            };
            tiers.push(Tier {
                id,
                name: row.name.clone(),
                threshold_minor,
            });
        }
        let window = match self.window.as_str() {
            "rolling_365_days" => SpendWindow::Rolling365Days,
            "lifetime" => SpendWindow::Lifetime,
            other => {
                problems.add(
                    "window",
                    format!("`{other}` is not a choice; pick one from the list."),
                );
                SpendWindow::default()
            }
        };
        let policy = match self.policy.as_str() {
            "never" => DowngradePolicy::Never,
            "immediate" => DowngradePolicy::Immediate,
            "hold" => DowngradePolicy::Hold,
            other => {
                problems.add(
                    "policy",
                    format!("`{other}` is not a choice; pick one from the list."),
                );
                DowngradePolicy::default()
            }
        };
        p.tiers = (!tiers.is_empty()).then_some(TierSettings {
            tiers,
            window,
            policy,
        });
        p
    }

    fn form(&self, base: &str, csrf: &str, currency: &str, problems: &Problems) -> Markup {
        let blank = TierRow {
            id: String::new(),
            name: String::new(),
            threshold: String::new(),
        };
        let rows: Vec<&TierRow> = self
            .rows
            .iter()
            .chain(std::iter::repeat_n(&blank, BLANK_TIER_ROWS))
            .collect();
        html! {
            form.card #tiers method="post" action=(format!("{base}/tiers")) novalidate {
                input type="hidden" name="csrf" value=(csrf);
                @if let Some(m) = problems.of("form") {
                    p.problem #tiers-problem role="alert" { (m) }
                }
                p.muted { "Members reach a tier when their qualifying spend reaches its threshold. Clear a row to remove that tier." }
                table #tier-rows {
                    tr { th { "Tier" } th { "Qualifying spend (" (currency) ")" } }
                    @for (i, row) in rows.iter().enumerate() {
                        @let name = format!("tier_name_{i}");
                        @let threshold = format!("tier_threshold_{i}");
                        tr {
                            td {
                                input type="hidden" name=(format!("tier_id_{i}")) value=(row.id);
                                input id=(name) type="text" name=(name) value=(row.name) aria-label=(format!("Name of tier {}", i + 1)) aria-invalid=[problems.invalid(&name)];
                                (problems.show(&name))
                            }
                            td {
                                input id=(threshold) type="text" inputmode="decimal" name=(threshold) value=(row.threshold) aria-label=(format!("Spend for tier {}", i + 1)) aria-invalid=[problems.invalid(&threshold)];
                                (problems.show(&threshold))
                            }
                        }
                    }
                }
                label for="window" { "Spend that counts" }
                select #window name="window" aria-invalid=[problems.invalid("window")] {
                    option value="rolling_365_days" selected[self.window == "rolling_365_days"] { "The last 365 days" }
                    option value="lifetime" selected[self.window == "lifetime"] { "Everything since joining" }
                }
                (problems.show("window"))
                label for="policy" { "When spend falls below a tier" }
                select #policy name="policy" aria-invalid=[problems.invalid("policy")] {
                    option value="hold" selected[self.policy == "hold"] { "Keep the tier for a year after reaching it" }
                    option value="immediate" selected[self.policy == "immediate"] { "Move down at the next daily check" }
                    option value="never" selected[self.policy == "never"] { "Never move down" }
                }
                (problems.show("policy"))
                p { button.primary #save-tiers type="submit" { "Save tiers" } }
            }
        }
    }
}

/// An id for a new tier from its name (`Gold plus` → `gold-plus`), unique in the program.
fn new_tier_id(name: &str, taken: &[Tier]) -> String {
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let base = if slug.is_empty() {
        "tier".to_owned()
    } else {
        slug
    };
    let mut id = base.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.id == id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

// ----- the program page -----

/// The two forms of the program page, as saved or as just typed with their problems.
struct ProgramForms {
    earning: Earning,
    earning_problems: Problems,
    tiers: Tiers,
    tier_problems: Problems,
}

impl ProgramForms {
    fn of(program: &Program, currency: &str) -> ProgramForms {
        ProgramForms {
            earning: Earning::of(program, currency),
            earning_problems: Problems::default(),
            tiers: Tiers::of(program, currency),
            tier_problems: Problems::default(),
        }
    }
}

fn program_body(
    merchant: &Merchant,
    viewer: &Viewer,
    done: &Done,
    forms: &ProgramForms,
    cards: &[CardView],
    names: &CategoryNames,
) -> Markup {
    let base = format!("/merchants/{}/loyalty", merchant.id);
    html! {
        h1 { "Loyalty program" }
        (done.show(NOTICES))
        h2 { "Earning rule" }
        (forms.earning.form(&base, &viewer.csrf, &merchant.currency, &forms.earning_problems))
        h2 { "Tiers" }
        (forms.tiers.form(&base, &viewer.csrf, &merchant.currency, &forms.tier_problems))
        h2 { "Punch cards" }
        p { a.button #new-card href=(format!("{base}/cards/new")) { "New punch card" } }
        @if cards.is_empty() {
            p.muted #no-cards { "No punch cards yet." }
        } @else {
            table #cards {
                tr { th { "Card" } th { "Reward" } th { "Stamps" } th { "Counts" } th { "Categories" } th { "State" } }
                @for card in cards {
                    tr data-card=(card.id) {
                        td { a href=(format!("{base}/cards/{}", card.id)) { (card.name) } }
                        td { (card.reward) }
                        td { (card.rule.stamps_required) }
                        td { (match card.rule.mode { StampMode::PerItem => "every matching item", StampMode::PerOrder => "orders with a matching item" }) }
                        td {
                            @if card.rule.categories.is_empty() { "every category" }
                            @else { (card.rule.categories.iter().map(|c| names.describe(c)).collect::<Vec<_>>().join(", ")) }
                        }
                        td { (if card.active { "active" } else { "paused" }) }
                    }
                }
            }
        }
    }
}

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let program = program::get(&s.engine, &merchant_id).await?;
    let forms = ProgramForms::of(&program, &merchant.currency);
    render(&s, &viewer, &merchant, &done, &forms, StatusCode::OK).await
}

async fn render(
    s: &AppState,
    viewer: &Viewer,
    merchant: &Merchant,
    done: &Done,
    forms: &ProgramForms,
    status: StatusCode,
) -> Result<Response, Page> {
    let cards = punch_cards::list(&s.engine, &merchant.id).await?;
    let names = CategoryNames::load(s, &merchant.id).await?;
    let body = program_body(merchant, viewer, done, forms, &cards, &names);
    Ok(page(viewer, merchant, status, "Loyalty program", body))
}

/// One of the program page's forms: read as sent, applied to the program, and shown again
/// with its problems when refused.
trait ProgramForm: Sized {
    /// The notice after saving (`?done=`).
    const DONE: &'static str;
    fn sent(f: &Fields) -> Self;
    fn apply(&self, p: Program, currency: &str, problems: &mut Problems) -> Program;
    fn refused(self, problems: Problems, forms: ProgramForms) -> ProgramForms;
}

impl ProgramForm for Earning {
    const DONE: &'static str = "earning";
    fn sent(f: &Fields) -> Self {
        Earning::sent(f)
    }
    fn apply(&self, p: Program, currency: &str, problems: &mut Problems) -> Program {
        Earning::apply(self, p, currency, problems)
    }
    fn refused(self, problems: Problems, forms: ProgramForms) -> ProgramForms {
        ProgramForms {
            earning: self,
            earning_problems: problems,
            ..forms
        }
    }
}

impl ProgramForm for Tiers {
    const DONE: &'static str = "tiers";
    fn sent(f: &Fields) -> Self {
        Tiers::sent(f)
    }
    fn apply(&self, p: Program, currency: &str, problems: &mut Problems) -> Program {
        Tiers::apply(self, p, currency, problems)
    }
    fn refused(self, problems: Problems, forms: ProgramForms) -> ProgramForms {
        ProgramForms {
            tiers: self,
            tier_problems: problems,
            ..forms
        }
    }
}

/// Saves one form of the program page; the rest of the program stays as it is.
async fn save_program<F: ProgramForm>(
    s: AppState,
    viewer: Viewer,
    merchant_id: String,
    f: Fields,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let current = program::get(&s.engine, &merchant_id).await?;
    let sent = F::sent(&f);
    let mut problems = Problems::default();
    let wanted = sent.apply(current.clone(), &merchant.currency, &mut problems);
    let next = format!("/merchants/{merchant_id}/loyalty?done={}", F::DONE);
    let saving = program::put(&s.engine, &merchant_id, wanted);
    if let Some(done) = form::save(&mut problems, &[], saving, &next).await? {
        return Ok(done);
    }
    let forms = sent.refused(problems, ProgramForms::of(&current, &merchant.currency));
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    render(&s, &viewer, &merchant, &Done::default(), &forms, status).await
}

pub async fn save_earning(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    DashForm(f): DashForm<Fields>,
) -> Result<Response, Page> {
    save_program::<Earning>(s, viewer, merchant_id, f).await
}

pub async fn save_tiers(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    DashForm(f): DashForm<Fields>,
) -> Result<Response, Page> {
    save_program::<Tiers>(s, viewer, merchant_id, f).await
}

// ----- punch cards -----

/// One connection's synced categories.
struct ChannelCategories {
    connection_id: String,
    label: String,
    /// (category id, name), sorted by name.
    categories: Vec<(String, String)>,
}

/// The synced categories, for the picker and to name a card's categories.
struct CategoryNames {
    connections: Vec<ChannelCategories>,
    by_id: HashMap<(String, String), String>,
}

impl CategoryNames {
    async fn load(s: &AppState, merchant_id: &str) -> Result<CategoryNames, Page> {
        let connections = s.engine.connection_summaries(merchant_id).await?;
        let rows = s.engine.categories(merchant_id, None).await?;
        let mut by_id = HashMap::new();
        let mut grouped = Vec::new();
        for c in connections {
            let mut cats: Vec<(String, String)> = rows
                .iter()
                .filter(|r| r.connection_id == c.id)
                .map(|r| (r.external_id.clone(), r.name.clone()))
                .collect();
            cats.sort_by(|a, b| {
                a.1.to_lowercase()
                    .cmp(&b.1.to_lowercase())
                    .then(a.0.cmp(&b.0))
            });
            for (id, name) in &cats {
                by_id.insert((c.id.clone(), id.clone()), name.clone());
            }
            let label = channel_label(&c.series, c.account_name.as_deref());
            grouped.push(ChannelCategories {
                connection_id: c.id,
                label,
                categories: cats,
            });
        }
        Ok(CategoryNames {
            connections: grouped,
            by_id,
        })
    }

    fn describe(&self, c: &CategoryRef) -> String {
        match (&c.connection_id, &c.id, &c.name) {
            (Some(conn), Some(id), _) => self
                .by_id
                .get(&(conn.clone(), id.clone()))
                .cloned()
                .unwrap_or_else(|| format!("category {id}")),
            (_, _, Some(name)) => name.clone(),
            (None, Some(id), None) => format!("category {id}"),
            (Some(_), None, None) | (None, None, None) => "—".to_owned(),
        }
    }
}

/// A picked category as the check box sends it: `id:<connection>:<category id>` or
/// `name:<connection or empty>:<name>`.
fn pick_value(c: &CategoryRef) -> Option<String> {
    let conn = c.connection_id.as_deref().unwrap_or("");
    match (&c.id, &c.name) {
        (Some(id), _) => Some(format!("id:{conn}:{id}")),
        (None, Some(name)) => Some(format!("name:{conn}:{name}")),
        (None, None) => None,
    }
}

fn pick_ref(value: &str) -> Option<CategoryRef> {
    let mut parts = value.splitn(3, ':');
    let (kind, conn, v) = (parts.next()?, parts.next()?, parts.next()?);
    let connection_id = (!conn.is_empty()).then(|| conn.to_owned());
    match kind {
        "id" if !v.is_empty() => Some(CategoryRef {
            connection_id,
            id: Some(v.to_owned()),
            name: None,
        }),
        "name" if !v.trim().is_empty() => Some(CategoryRef {
            connection_id,
            id: None,
            name: Some(v.to_owned()),
        }),
        _ => None,
    }
}

/// The punch card form as typed.
struct CardForm {
    name: String,
    reward: String,
    stamps_required: String,
    mode: String,
    min_order: String,
    max_per_order: String,
    max_per_day: String,
    active: bool,
    picked: Vec<String>,
}

impl CardForm {
    fn blank() -> CardForm {
        CardForm {
            name: String::new(),
            reward: String::new(),
            stamps_required: "10".to_owned(),
            mode: "per_item".to_owned(),
            min_order: String::new(),
            max_per_order: String::new(),
            max_per_day: String::new(),
            active: true,
            picked: Vec::new(),
        }
    }

    fn of(card: &CardView, currency: &str) -> CardForm {
        let r = &card.rule;
        CardForm {
            name: card.name.clone(),
            reward: card.reward.clone(),
            stamps_required: r.stamps_required.to_string(),
            mode: match r.mode {
                StampMode::PerItem => "per_item",
                StampMode::PerOrder => "per_order",
            }
            .to_owned(),
            min_order: r
                .min_order_minor
                .map(|m| decimal_minor(m, currency))
                .unwrap_or_default(),
            max_per_order: r.max_per_order.map(|n| n.to_string()).unwrap_or_default(),
            max_per_day: r.max_per_day.map(|n| n.to_string()).unwrap_or_default(),
            active: card.active,
            picked: r.categories.iter().filter_map(pick_value).collect(),
        }
    }

    fn sent(f: &Fields) -> CardForm {
        CardForm {
            name: f.get("name").to_owned(),
            reward: f.get("reward").to_owned(),
            stamps_required: f.get("stamps_required").to_owned(),
            mode: f.get("mode").to_owned(),
            min_order: f.get("min_order").to_owned(),
            max_per_order: f.get("max_per_order").to_owned(),
            max_per_day: f.get("max_per_day").to_owned(),
            active: f.ticked("active"),
            picked: f.all("category").map(str::to_owned).collect(),
        }
    }

    fn input(&self, currency: &str, problems: &mut Problems) -> Option<CardInput> {
        if self.name.is_empty() {
            problems.add("name", "Name the card, like Hot Drinks.");
        }
        if self.reward.is_empty() {
            problems.add(
                "reward",
                "Say what a full card earns, like a free hot drink.",
            );
        }
        let stamps_required = count(&self.stamps_required, 1..=1000)
            .map_err(|m| problems.add("stamps_required", m))
            .ok();
        let mode = match self.mode.as_str() {
            "per_item" => Some(StampMode::PerItem),
            "per_order" => Some(StampMode::PerOrder),
            other => {
                problems.add(
                    "mode",
                    format!("`{other}` is not a choice; pick one from the list."),
                );
                None
            }
        };
        let optional_count = |field: &str, raw: &str, problems: &mut Problems| -> Option<u32> {
            if raw.is_empty() {
                return None;
            }
            count(raw, 1..=1000)
                .map_err(|m| problems.add(field, m))
                .ok()
        };
        let max_per_order = optional_count("max_per_order", &self.max_per_order, problems);
        let max_per_day = optional_count("max_per_day", &self.max_per_day, problems);
        let min_order_minor = if self.min_order.is_empty() {
            None
        } else {
            amount(&self.min_order, currency)
                .map_err(|m| problems.add("min_order", m))
                .ok()
        };
        let mut categories = Vec::new();
        for value in &self.picked {
            match pick_ref(value) {
                Some(c) => categories.push(c),
                None => problems.add(
                    "category",
                    format!("`{value}` is not a category; reload the page and pick again."),
                ),
            }
        }
        if !problems.is_empty() {
            return None;
        }
        Some(CardInput {
            name: self.name.clone(),
            reward: self.reward.clone(),
            stamps_required: stamps_required?,
            categories,
            mode: mode?,
            min_order_minor,
            max_per_order,
            max_per_day,
            active: self.active,
        })
    }
}

fn card_body(
    merchant: &Merchant,
    viewer: &Viewer,
    card_id: Option<&str>,
    form: &CardForm,
    names: &CategoryNames,
    problems: &Problems,
) -> Markup {
    let base = format!("/merchants/{}/loyalty", merchant.id);
    let action = match card_id {
        Some(id) => format!("{base}/cards/{id}"),
        None => format!("{base}/cards"),
    };
    let synced: std::collections::HashSet<String> = names
        .connections
        .iter()
        .flat_map(|c| {
            c.categories
                .iter()
                .map(move |(id, _)| format!("id:{}:{id}", c.connection_id))
        })
        .collect();
    let kept: Vec<&String> = form
        .picked
        .iter()
        .filter(|v| !synced.contains(*v))
        .collect();
    html! {
        p { a href=(base) { "← Loyalty program" } }
        h1 { @if card_id.is_some() { "Punch card" } @else { "New punch card" } }
        form.card #card method="post" action=(action) novalidate {
            input type="hidden" name="csrf" value=(viewer.csrf);
            @if let Some(m) = problems.of("form") {
                p.problem #card-problem role="alert" { (m) }
            }
            label for="name" { "Name" }
            input #name type="text" name="name" value=(form.name) placeholder="Hot Drinks" aria-invalid=[problems.invalid("name")];
            (problems.show("name"))
            label for="reward" { "Reward for a full card" }
            input #reward type="text" name="reward" value=(form.reward) placeholder="a free hot drink" aria-invalid=[problems.invalid("reward")];
            (problems.show("reward"))
            label for="stamps_required" { "Stamps for a full card" }
            input #stamps_required type="number" min="1" max="1000" name="stamps_required" value=(form.stamps_required) aria-invalid=[problems.invalid("stamps_required")];
            (problems.show("stamps_required"))
            label for="mode" { "Stamps" }
            select #mode name="mode" aria-invalid=[problems.invalid("mode")] {
                option value="per_item" selected[form.mode == "per_item"] { "One for every matching item" }
                option value="per_order" selected[form.mode == "per_order"] { "One for an order with any matching item" }
            }
            (problems.show("mode"))
            fieldset #categories {
                legend { "Categories that earn stamps (none ticked: every category)" }
                @if names.connections.iter().all(|c| c.categories.is_empty()) && kept.is_empty() {
                    p.muted #no-categories { "No categories synced yet. They appear once a sales channel is connected and its catalog has synced." }
                }
                @for channel in &names.connections {
                    @if !channel.categories.is_empty() {
                        div.connection-categories data-connection=(channel.connection_id) {
                            strong { (channel.label) }
                            @for (id, name) in &channel.categories {
                                @let value = format!("id:{}:{id}", channel.connection_id);
                                label.check {
                                    input type="checkbox" name="category" value=(value) checked[form.picked.contains(&value)];
                                    " " (name)
                                }
                            }
                        }
                    }
                }
                @for value in &kept {
                    label.check {
                        input type="checkbox" name="category" value=(value) checked;
                        " " (pick_ref(value).map(|c| kept_label(&c, names)).unwrap_or_else(|| (*value).clone()))
                    }
                }
                (problems.show("category"))
            }
            label for="min_order" { "Smallest order that earns (" (merchant.currency) ", optional)" }
            input #min_order type="text" inputmode="decimal" name="min_order" value=(form.min_order) aria-invalid=[problems.invalid("min_order")];
            (problems.show("min_order"))
            label for="max_per_order" { "Most stamps per order (optional)" }
            input #max_per_order type="number" min="1" name="max_per_order" value=(form.max_per_order) aria-invalid=[problems.invalid("max_per_order")];
            (problems.show("max_per_order"))
            label for="max_per_day" { "Most stamps per day (optional)" }
            input #max_per_day type="number" min="1" name="max_per_day" value=(form.max_per_day) aria-invalid=[problems.invalid("max_per_day")];
            (problems.show("max_per_day"))
            label.check {
                input #active type="checkbox" name="active" value="on" checked[form.active];
                " Active: purchases earn stamps"
            }
            p { button.primary #save-card type="submit" { @if card_id.is_some() { "Save punch card" } @else { "Create punch card" } } }
        }
    }
}

/// A picked category that is not one of the synced ones (a name, or a category since deleted).
fn kept_label(c: &CategoryRef, names: &CategoryNames) -> String {
    let on = match &c.connection_id {
        Some(conn) => names
            .connections
            .iter()
            .find(|channel| &channel.connection_id == conn)
            .map_or_else(
                || "a removed connection".to_owned(),
                |channel| channel.label.clone(),
            ),
        None => "every channel".to_owned(),
    };
    match (&c.id, &c.name) {
        (Some(id), _) => format!("category {id} (no longer synced) on {on}"),
        (None, Some(name)) => format!("{name} (by name) on {on}"),
        (None, None) => on,
    }
}

pub async fn new_card(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let names = CategoryNames::load(&s, &merchant_id).await?;
    let body = card_body(
        &merchant,
        &viewer,
        None,
        &CardForm::blank(),
        &names,
        &Problems::default(),
    );
    Ok(page(
        &viewer,
        &merchant,
        StatusCode::OK,
        "New punch card",
        body,
    ))
}

pub async fn edit_card(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, card_id)): Path<(String, String)>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let card = find_card(&s, &merchant_id, &card_id).await?;
    let names = CategoryNames::load(&s, &merchant_id).await?;
    let form = CardForm::of(&card, &merchant.currency);
    let body = card_body(
        &merchant,
        &viewer,
        Some(&card.id),
        &form,
        &names,
        &Problems::default(),
    );
    Ok(page(&viewer, &merchant, StatusCode::OK, &card.name, body))
}

async fn find_card(s: &AppState, merchant_id: &str, card_id: &str) -> Result<CardView, Page> {
    punch_cards::list(&s.engine, merchant_id)
        .await?
        .into_iter()
        .find(|c| c.id == card_id)
        .ok_or_else(Page::not_found)
}

pub async fn create_card(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    DashForm(f): DashForm<Fields>,
) -> Result<Response, Page> {
    save_card(s, viewer, merchant_id, None, f).await
}

pub async fn update_card(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, card_id)): Path<(String, String)>,
    DashForm(f): DashForm<Fields>,
) -> Result<Response, Page> {
    save_card(s, viewer, merchant_id, Some(card_id), f).await
}

async fn save_card(
    s: AppState,
    viewer: Viewer,
    merchant_id: String,
    card_id: Option<String>,
    f: Fields,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    if let Some(id) = &card_id {
        find_card(&s, &merchant_id, id).await?;
    }
    let form = CardForm::sent(&f);
    let mut problems = Problems::default();
    if let Some(input) = form.input(&merchant.currency, &mut problems) {
        let done = if card_id.is_some() {
            "card_saved"
        } else {
            "card_created"
        };
        let next = format!("/merchants/{merchant_id}/loyalty?done={done}");
        let saving = async {
            match &card_id {
                Some(id) => punch_cards::update(&s.engine, &merchant_id, id, input).await,
                None => punch_cards::create(&s.engine, &merchant_id, input).await,
            }
        };
        if let Some(done) = form::save(&mut problems, &[], saving, &next).await? {
            return Ok(done);
        }
    }
    let names = CategoryNames::load(&s, &merchant_id).await?;
    let body = card_body(
        &merchant,
        &viewer,
        card_id.as_deref(),
        &form,
        &names,
        &problems,
    );
    let title = if card_id.is_some() {
        "Punch card"
    } else {
        "New punch card"
    };
    Ok(page(
        &viewer,
        &merchant,
        StatusCode::UNPROCESSABLE_ENTITY,
        title,
        body,
    ))
}
