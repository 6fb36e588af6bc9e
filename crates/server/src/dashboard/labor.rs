//! Weekly balance: the labor settings (which connection feeds it, VAT basis, schedule),
//! departments with their field mapping ("define field type", split into 1-hour intervals),
//! the week grid with hourly detail, approval and discrepancies, and Tools › Import POS.

use super::channels::{channel_label, series_name};
use super::form::{self, count, Fields, Problems};
use super::{at, merchant_page, DashForm, Done, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, NaiveDate};
use maud::{html, Markup};
use serde::Deserialize;
use tillbridge_engine::merchants::Merchant;
use tillbridge_labor::balance::{self, shown};
use tillbridge_labor::departments::{self, definition, Department, DepartmentInput, Field};
use tillbridge_labor::figures::{FieldType, VatBasis};
use tillbridge_labor::imports::{self, NewImport};
use tillbridge_labor::settings::{self, Settings};

const NOTICES: &[(&str, &str)] = &[
    ("settings", "Settings saved."),
    ("department", "Department saved."),
    ("import", "Import queued. Its progress shows below."),
    ("confirmed", "Day approved."),
    (
        "reopened",
        "Day reopened: the next import may change its numbers again.",
    ),
];

fn page(
    viewer: &Viewer,
    merchant: &Merchant,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    merchant_page(viewer, merchant, "labor", status, title, body)
}

/// The engine's clock.
fn now(s: &AppState) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(s.engine.now_ms()).unwrap_or_default()
}

/// Who acts, for the audit trail.
fn actor(viewer: &Viewer) -> String {
    format!("dashboard user {}", viewer.user.email)
}

fn sub_nav(merchant_id: &str, open: &str) -> Markup {
    let base = format!("/merchants/{merchant_id}/labor");
    html! {
        nav.tabs {
            a #tab-balance href=(base) class=[(open == "balance").then_some("open")] { "Weekly balance" }
            a #tab-import href=(format!("{base}/import")) class=[(open == "import").then_some("open")] { "Tools › Import POS" }
        }
    }
}

// ----- the overview: settings and departments -----

struct SettingsForm {
    enabled: bool,
    connection_id: String,
    vat_basis: String,
    schedule_at: String,
    schedule_zone: String,
    auto_confirm: bool,
    confirm_at: String,
    trailing_days: String,
}

impl SettingsForm {
    fn of(s: &Settings) -> SettingsForm {
        SettingsForm {
            enabled: s.enabled,
            connection_id: s.connection_id.clone().unwrap_or_default(),
            vat_basis: match s.vat_basis {
                VatBasis::Included => "included",
                VatBasis::Excluded => "excluded",
            }
            .to_owned(),
            schedule_at: s.schedule_at.clone(),
            schedule_zone: s.schedule_zone.clone(),
            auto_confirm: s.auto_confirm,
            confirm_at: s.confirm_at.clone(),
            trailing_days: s.trailing_days.to_string(),
        }
    }

    fn sent(f: &Fields) -> SettingsForm {
        SettingsForm {
            enabled: f.ticked("enabled"),
            connection_id: f.get("connection_id").to_owned(),
            vat_basis: f.get("vat_basis").to_owned(),
            schedule_at: f.get("schedule_at").to_owned(),
            schedule_zone: f.get("schedule_zone").to_owned(),
            auto_confirm: f.ticked("auto_confirm"),
            confirm_at: f.get("confirm_at").to_owned(),
            trailing_days: f.get("trailing_days").to_owned(),
        }
    }

    fn settings(&self, problems: &mut Problems) -> Settings {
        let mut s = Settings {
            enabled: self.enabled,
            connection_id: (!self.connection_id.is_empty()).then(|| self.connection_id.clone()),
            auto_confirm: self.auto_confirm,
            confirm_at: self.confirm_at.clone(),
            schedule_at: self.schedule_at.clone(),
            schedule_zone: self.schedule_zone.clone(),
            ..Settings::default()
        };
        s.vat_basis = match self.vat_basis.as_str() {
            "included" => VatBasis::Included,
            "excluded" => VatBasis::Excluded,
            other => {
                problems.add(
                    "vat_basis",
                    format!("`{other}` is not a choice; pick one from the list."),
                );
                VatBasis::default()
            }
        };
        match count(&self.trailing_days, 0..=31) {
            Ok(n) => s.trailing_days = n,
            Err(m) => problems.add("trailing_days", m),
        }
        if s.enabled && s.connection_id.is_none() {
            problems.add(
                "connection_id",
                "Pick the sales channel whose sales fill the weekly balance.",
            );
        }
        s
    }
}

const SETTINGS_FIELDS: [&str; 6] = [
    "connection_id",
    "schedule_at",
    "schedule_zone",
    "confirm_at",
    "trailing_days",
    "vat_basis",
];

fn settings_form(
    merchant_id: &str,
    viewer: &Viewer,
    connections: &[(String, String)],
    f: &SettingsForm,
    problems: &Problems,
) -> Markup {
    html! {
        form.card #labor-settings method="post" action=(format!("/merchants/{merchant_id}/labor/settings")) novalidate {
            input type="hidden" name="csrf" value=(viewer.csrf);
            @if let Some(m) = problems.of("form") { p.problem role="alert" { (m) } }
            label for="connection_id" { "POS integration service" }
            select #connection_id name="connection_id" aria-invalid=[problems.invalid("connection_id")] {
                option value="" selected[f.connection_id.is_empty()] { "None" }
                @for (id, label) in connections {
                    option value=(id) selected[&f.connection_id == id] { (label) }
                }
            }
            (problems.show("connection_id"))
            label.check {
                input #enabled type="checkbox" name="enabled" value="on" checked[f.enabled];
                " Import POS sales into the weekly balance every day"
            }
            label for="schedule_at" { "Daily import at (HH:MM)" }
            input #schedule_at type="text" name="schedule_at" value=(f.schedule_at) aria-invalid=[problems.invalid("schedule_at")];
            (problems.show("schedule_at"))
            label for="schedule_zone" { "In the time zone" }
            input #schedule_zone type="text" name="schedule_zone" value=(f.schedule_zone) aria-invalid=[problems.invalid("schedule_zone")];
            (problems.show("schedule_zone"))
            label for="trailing_days" { "Days each import recomputes before the last one" }
            input #trailing_days type="number" min="0" max="31" name="trailing_days" value=(f.trailing_days) aria-invalid=[problems.invalid("trailing_days")];
            (problems.show("trailing_days"))
            label for="vat_basis" { "Sales amounts" }
            select #vat_basis name="vat_basis" aria-invalid=[problems.invalid("vat_basis")] {
                option value="included" selected[f.vat_basis == "included"] { "Including VAT" }
                option value="excluded" selected[f.vat_basis == "excluded"] { "Excluding VAT" }
            }
            (problems.show("vat_basis"))
            label.check {
                input #auto_confirm type="checkbox" name="auto_confirm" value="on" checked[f.auto_confirm];
                " Approve yesterday's numbers automatically"
            }
            label for="confirm_at" { "Approve at (HH:MM)" }
            input #confirm_at type="text" name="confirm_at" value=(f.confirm_at) aria-invalid=[problems.invalid("confirm_at")];
            (problems.show("confirm_at"))
            p { button.primary #save-labor-settings type="submit" { "Save settings" } }
        }
    }
}

async fn connection_choices(
    s: &AppState,
    merchant_id: &str,
) -> Result<Vec<(String, String)>, Page> {
    Ok(s.engine
        .connection_summaries(merchant_id)
        .await?
        .into_iter()
        .filter(|c| c.status != "disabled")
        .map(|c| {
            let label = channel_label(&c.series, c.account_name.as_deref());
            (c.id, label)
        })
        .collect())
}

async fn overview(
    s: &AppState,
    viewer: &Viewer,
    merchant: &Merchant,
    done: &Done,
    form: Option<(SettingsForm, Problems)>,
) -> Result<Response, Page> {
    let current = settings::get(&s.engine, &merchant.id).await?;
    let depts = departments::list(&s.engine, &merchant.id).await?;
    let connections = connection_choices(s, &merchant.id).await?;
    let status = if form.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (form, problems) =
        form.unwrap_or_else(|| (SettingsForm::of(&current.settings), Problems::default()));
    let base = format!("/merchants/{}/labor", merchant.id);
    let body = html! {
        h1 { "Weekly balance" }
        (sub_nav(&merchant.id, "balance"))
        (done.show(NOTICES))
        h2 { "Departments" }
        p { a.button #new-department href=(format!("{base}/departments/new")) { "New department" } }
        @if depts.is_empty() {
            p.muted #no-departments { "No departments yet: a department takes the sales of a POS location (or some of its registers) into its weekly balance." }
        } @else {
            table #departments {
                tr { th { "Department" } th { "POS location" } th { "Registers" } th { "Fields" } th {} }
                @for d in &depts {
                    tr data-department=(d.id) {
                        td { a href=(format!("{base}/departments/{}/week", d.id)) { (d.name) } }
                        td { (d.client_number) }
                        td { @if d.terminals.is_empty() { "all" } @else { (d.terminals.join(", ")) } }
                        td { (d.fields.iter().map(|f| f.label).collect::<Vec<_>>().join(", ")) }
                        td { a href=(format!("{base}/departments/{}", d.id)) { "Field mapping" } }
                    }
                }
            }
        }
        h2 { "Settings" }
        @if let Some(last) = current.last_import_at {
            p.muted { "Last daily import " (at(last, &merchant.timezone)) "." }
        }
        (settings_form(&merchant.id, viewer, &connections, &form, &problems))
    };
    Ok(page(viewer, merchant, status, "Weekly balance", body))
}

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    overview(&s, &viewer, &merchant, &done, None).await
}

pub async fn save_settings(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    DashForm(f): DashForm<Fields>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let form = SettingsForm::sent(&f);
    let mut problems = Problems::default();
    let wanted = form.settings(&mut problems);
    let next = format!("/merchants/{merchant_id}/labor?done=settings");
    let who = actor(&viewer);
    let saving = settings::put(&s.engine, &merchant_id, wanted, &who);
    if let Some(done) = form::save(&mut problems, &SETTINGS_FIELDS, saving, &next).await? {
        return Ok(done);
    }
    overview(
        &s,
        &viewer,
        &merchant,
        &Done::default(),
        Some((form, problems)),
    )
    .await
}

// ----- a department and its field mapping -----

struct FieldRow {
    used: bool,
    number: String,
    name: String,
    hourly: bool,
}

struct DepartmentForm {
    name: String,
    client_number: String,
    timezone: String,
    business_day_start: String,
    terminals: String,
    /// One per field type, in [`FieldType::ALL`] order.
    fields: Vec<FieldRow>,
}

impl DepartmentForm {
    fn blank(merchant: &Merchant) -> DepartmentForm {
        DepartmentForm {
            name: String::new(),
            client_number: String::new(),
            timezone: merchant.timezone.clone(),
            business_day_start: "00:00".to_owned(),
            terminals: String::new(),
            fields: FieldType::ALL
                .iter()
                .map(|t| FieldRow {
                    used: false,
                    number: String::new(),
                    name: t.label().to_owned(),
                    hourly: false,
                })
                .collect(),
        }
    }

    fn of(d: &Department) -> DepartmentForm {
        DepartmentForm {
            name: d.name.clone(),
            client_number: d.client_number.clone(),
            timezone: d.timezone.clone(),
            business_day_start: d.business_day_start.clone(),
            terminals: d.terminals.join(", "),
            fields: FieldType::ALL
                .iter()
                .map(|t| match d.field(*t) {
                    Some(f) => FieldRow {
                        used: true,
                        number: f.number.clone(),
                        name: f.name.clone(),
                        hourly: f.hourly,
                    },
                    None => FieldRow {
                        used: false,
                        number: String::new(),
                        name: t.label().to_owned(),
                        hourly: false,
                    },
                })
                .collect(),
        }
    }

    fn sent(f: &Fields) -> DepartmentForm {
        DepartmentForm {
            name: f.get("name").to_owned(),
            client_number: f.get("client_number").to_owned(),
            timezone: f.get("timezone").to_owned(),
            business_day_start: f.get("business_day_start").to_owned(),
            terminals: f.get("terminals").to_owned(),
            fields: FieldType::ALL
                .iter()
                .map(|t| {
                    let k = t.as_str();
                    FieldRow {
                        used: f.ticked(&format!("use_{k}")),
                        number: f.get(&format!("number_{k}")).to_owned(),
                        name: f.get(&format!("name_{k}")).to_owned(),
                        hourly: f.ticked(&format!("hourly_{k}")),
                    }
                })
                .collect(),
        }
    }

    fn input(&self, problems: &mut Problems) -> DepartmentInput {
        if self.name.is_empty() {
            problems.add("name", "Name the department, like Bar or Kitchen.");
        }
        if self.client_number.is_empty() {
            problems.add(
                "client_number",
                "Pick the POS location whose sales this department takes.",
            );
        }
        let mut fields = Vec::new();
        for (t, row) in FieldType::ALL.iter().zip(&self.fields) {
            if !row.used {
                continue;
            }
            let k = t.as_str();
            if row.number.is_empty() {
                problems.add(
                    &format!("number_{k}"),
                    "Give the field's number or code in your planning tool.",
                );
                continue;
            }
            fields.push(Field {
                number: row.number.clone(),
                name: if row.name.is_empty() {
                    t.label().to_owned()
                } else {
                    row.name.clone()
                },
                field_type: *t,
                hourly: row.hourly,
            });
        }
        DepartmentInput {
            name: self.name.clone(),
            timezone: self.timezone.clone(),
            business_day_start: Some(self.business_day_start.clone()).filter(|v| !v.is_empty()),
            client_number: self.client_number.clone(),
            terminals: self
                .terminals
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            fields,
        }
    }
}

const DEPARTMENT_FIELDS: [&str; 6] = [
    "name",
    "timezone",
    "business_day_start",
    "client_number",
    "terminals",
    "fields",
];

async fn location_choices(s: &AppState, merchant_id: &str) -> Result<Vec<(String, String)>, Page> {
    let mut out = Vec::new();
    for c in s.engine.connections(merchant_id).await? {
        if c.status == "disabled" {
            continue;
        }
        for p in c.pos_locations {
            out.push((
                p.id.clone(),
                format!("{} · {} ({})", series_name(&c.series), p.name, p.id),
            ));
        }
    }
    Ok(out)
}

async fn department_page(
    s: &AppState,
    viewer: &Viewer,
    merchant: &Merchant,
    department_id: Option<&str>,
    form: &DepartmentForm,
    problems: &Problems,
    status: StatusCode,
) -> Result<Response, Page> {
    let locations = location_choices(s, &merchant.id).await?;
    let base = format!("/merchants/{}/labor", merchant.id);
    let action = match department_id {
        Some(id) => format!("{base}/departments/{id}"),
        None => format!("{base}/departments"),
    };
    let known = locations.iter().any(|(id, _)| id == &form.client_number);
    let body = html! {
        p { a href=(base) { "← Weekly balance" } }
        h1 { @if department_id.is_some() { "Department" } @else { "New department" } }
        form.card #department method="post" action=(action) novalidate {
            input type="hidden" name="csrf" value=(viewer.csrf);
            @if let Some(m) = problems.of("form") { p.problem #department-problem role="alert" { (m) } }
            label for="name" { "Name" }
            input #name type="text" name="name" value=(form.name) aria-invalid=[problems.invalid("name")];
            (problems.show("name"))
            label for="client_number" { "POS location (client number)" }
            select #client_number name="client_number" aria-invalid=[problems.invalid("client_number")] {
                option value="" selected[form.client_number.is_empty()] { "Pick a location" }
                @for (id, label) in &locations {
                    option value=(id) selected[&form.client_number == id] { (label) }
                }
                @if !known && !form.client_number.is_empty() {
                    option value=(form.client_number) selected { (form.client_number) " (no longer listed)" }
                }
            }
            (problems.show("client_number"))
            label for="terminals" { "Registers (ids, comma-separated; empty: every register)" }
            input #terminals type="text" name="terminals" value=(form.terminals) aria-invalid=[problems.invalid("terminals")];
            (problems.show("terminals"))
            label for="timezone" { "Time zone" }
            input #timezone type="text" name="timezone" value=(form.timezone) aria-invalid=[problems.invalid("timezone")];
            (problems.show("timezone"))
            label for="business_day_start" { "Business day starts at (HH:MM)" }
            input #business_day_start type="text" name="business_day_start" value=(form.business_day_start) aria-invalid=[problems.invalid("business_day_start")];
            (problems.show("business_day_start"))
            h2 { "Field mapping" }
            p.muted { "Tick the fields your planning tool has, give each its number, and say which are split into 1-hour intervals (the others hold the day's total)." }
            (problems.show("fields"))
            table #field-mapping {
                tr { th { "Use" } th { "Field type" } th { "Number" } th { "Name" } th { "Split into 1 hr intervals" } }
                @for (t, row) in FieldType::ALL.iter().zip(&form.fields) {
                    @let k = t.as_str();
                    tr data-field-type=(k) {
                        td { input type="checkbox" name=(format!("use_{k}")) value="on" checked[row.used] aria-label=(format!("Use {}", t.label())); }
                        td { strong { (t.label()) } div.muted { (definition(*t)) } }
                        td {
                            input type="text" id=(format!("number_{k}")) name=(format!("number_{k}")) value=(row.number) aria-label=(format!("Number of {}", t.label())) aria-invalid=[problems.invalid(&format!("number_{k}"))];
                            (problems.show(&format!("number_{k}")))
                        }
                        td { input type="text" name=(format!("name_{k}")) value=(row.name) aria-label=(format!("Name of {}", t.label())); }
                        td { input type="checkbox" name=(format!("hourly_{k}")) value="on" checked[row.hourly] aria-label=(format!("Split {} into 1 hr intervals", t.label())); }
                    }
                }
            }
            p { button.primary #save-department type="submit" { "Save department" } }
        }
    };
    let title = if department_id.is_some() {
        "Department"
    } else {
        "New department"
    };
    Ok(page(viewer, merchant, status, title, body))
}

pub async fn new_department(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let form = DepartmentForm::blank(&merchant);
    department_page(
        &s,
        &viewer,
        &merchant,
        None,
        &form,
        &Problems::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn edit_department(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, department_id)): Path<(String, String)>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let d = departments::get(&s.engine, &merchant_id, &department_id).await?;
    let form = DepartmentForm::of(&d);
    department_page(
        &s,
        &viewer,
        &merchant,
        Some(&d.id),
        &form,
        &Problems::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn create_department(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    DashForm(f): DashForm<Fields>,
) -> Result<Response, Page> {
    save_department(s, viewer, merchant_id, None, f).await
}

pub async fn update_department(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, department_id)): Path<(String, String)>,
    DashForm(f): DashForm<Fields>,
) -> Result<Response, Page> {
    save_department(s, viewer, merchant_id, Some(department_id), f).await
}

async fn save_department(
    s: AppState,
    viewer: Viewer,
    merchant_id: String,
    department_id: Option<String>,
    f: Fields,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    if let Some(id) = &department_id {
        departments::get(&s.engine, &merchant_id, id).await?;
    }
    let form = DepartmentForm::sent(&f);
    let mut problems = Problems::default();
    let input = form.input(&mut problems);
    let next = format!("/merchants/{merchant_id}/labor?done=department");
    let saving = departments::save(&s.engine, &merchant_id, department_id.as_deref(), input);
    if let Some(done) = form::save(&mut problems, &DEPARTMENT_FIELDS, saving, &next).await? {
        return Ok(done);
    }
    department_page(
        &s,
        &viewer,
        &merchant,
        department_id.as_deref(),
        &form,
        &problems,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

// ----- the week grid -----

#[derive(Deserialize, Default)]
pub struct WeekQuery {
    #[serde(default)]
    week: String,
    #[serde(default)]
    day: String,
    done: Option<String>,
}

fn status_name(status: &str) -> &'static str {
    match status {
        "ok" => "Imported",
        "partial" => "Partly imported",
        "failed" => "Import failed",
        "not_imported" => "Not imported",
        _ => "Unknown",
    }
}

pub async fn week(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, department_id)): Path<(String, String)>,
    Query(q): Query<WeekQuery>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let dept = departments::get(&s.engine, &merchant_id, &department_id).await?;
    let bad = |what: &str, v: &str| {
        Page::error(
            StatusCode::BAD_REQUEST,
            "Not shown",
            &format!("`{v}` is not a {what}; write it as YYYY-MM-DD."),
        )
    };
    let today = now(&s).with_timezone(&dept.zone()).date_naive();
    let in_week = if q.week.is_empty() {
        today
    } else {
        q.week
            .parse::<NaiveDate>()
            .map_err(|_| bad("date", &q.week))?
    };
    let (monday, sunday) = balance::week(in_week);
    let b = balance::get(&s.engine, &merchant_id, &department_id, monday, sunday).await?;
    let day = if q.day.is_empty() {
        None
    } else {
        Some(
            q.day
                .parse::<NaiveDate>()
                .map_err(|_| bad("date", &q.day))?,
        )
    };
    let done = Done { done: q.done };
    let base = format!("/merchants/{merchant_id}/labor/departments/{department_id}");
    let week_url = |d: NaiveDate| format!("{base}/week?week={d}");
    let value = |t: FieldType, v: i64| shown(t, v, &merchant.currency);
    let detail = day.and_then(|d| b.days.iter().find(|x| x.business_date == d.to_string()));
    let hourly: Vec<&Field> = b
        .fields
        .iter()
        .map(|f| &f.field)
        .filter(|f| f.hourly)
        .collect();
    let body = html! {
        p { a href=(format!("/merchants/{merchant_id}/labor")) { "← Weekly balance" } }
        h1 #department-name { (dept.name) }
        (done.show(NOTICES))
        p.week-nav {
            a #previous-week href=(week_url(monday - Duration::days(7))) { "← Previous week" }
            " " strong #week { (monday) " – " (sunday) } " "
            a #next-week href=(week_url(monday + Duration::days(7))) { "Next week →" }
        }
        @if b.fields.is_empty() {
            p.problem { "This department has no fields yet: " a href=(base) { "map its fields" } " to fill its balance." }
        }
        table #week-grid {
            tr {
                th { "Field" }
                @for d in &b.days {
                    th { a href=(format!("{}&day={}", week_url(monday), d.business_date)) { (d.business_date) } }
                }
            }
            @for f in &b.fields {
                tr data-field-type=(f.field.field_type.as_str()) {
                    th { (f.field.number) " " (f.field.name) }
                    @for d in &b.days {
                        td { (d.totals.get(f.field.field_type.as_str()).map(|v| value(f.field.field_type, *v)).unwrap_or_default()) }
                    }
                }
            }
            tr #import-row {
                th { "Import" }
                @for d in &b.days {
                    td data-status=(d.import_status) {
                        (status_name(&d.import_status))
                        @if let Some(e) = &d.import_error { div.field-error { (e) } }
                    }
                }
            }
            tr #approval-row {
                th { "Approval" }
                @for d in &b.days {
                    td {
                        @if d.confirmed_at.is_some() {
                            span.badge.connected { "Approved" }
                            @if d.discrepancy.is_some() {
                                div.field-error.discrepancy { "The POS now differs" }
                            }
                            form.inline method="post" action=(format!("{base}/days/{}/reopen", d.business_date)) {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                button.link type="submit" { "Reopen" }
                            }
                        } @else if d.import_status != "not_imported" {
                            form.inline method="post" action=(format!("{base}/days/{}/confirm", d.business_date)) {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                button type="submit" data-confirm=(d.business_date) { "Approve" }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(d) = detail {
            h2 #hourly-title { "Hourly detail, " (d.business_date) }
            @if let Some(diff) = &d.discrepancy {
                p.problem #discrepancies { "Approved numbers differ from the POS: " (diff.to_string()) }
            }
            @if hourly.is_empty() {
                p.muted { "No field is split into 1-hour intervals." }
            } @else {
                table #hourly {
                    tr { th { "Hour" } @for f in &hourly { th { (f.number) " " (f.name) } } }
                    @for h in 0..24i64 {
                        tr {
                            td { (format!("{h:02}:00")) }
                            @for f in &hourly {
                                td { (d.values.iter().find(|v| v.field_type == f.field_type && v.hour == Some(h)).map(|v| value(f.field_type, v.value)).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        } @else {
            p.muted { "Pick a day for its hourly detail." }
        }
    };
    Ok(page(&viewer, &merchant, StatusCode::OK, &dept.name, body))
}

pub async fn confirm_day(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, department_id, date)): Path<(String, String, String)>,
) -> Result<Response, Page> {
    day_action(s, viewer, merchant_id, department_id, date, true).await
}

pub async fn reopen_day(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, department_id, date)): Path<(String, String, String)>,
) -> Result<Response, Page> {
    day_action(s, viewer, merchant_id, department_id, date, false).await
}

async fn day_action(
    s: AppState,
    viewer: Viewer,
    merchant_id: String,
    department_id: String,
    date: String,
    approve: bool,
) -> Result<Response, Page> {
    viewer.merchant(&s, &merchant_id).await?;
    let day: NaiveDate = date.parse().map_err(|_| Page::not_found())?;
    departments::get(&s.engine, &merchant_id, &department_id).await?;
    let done = if approve {
        imports::confirm(
            &s.engine,
            &merchant_id,
            &department_id,
            day,
            &actor(&viewer),
        )
        .await?;
        "confirmed"
    } else {
        imports::reopen(&s.engine, &merchant_id, &department_id, day).await?;
        "reopened"
    };
    Ok(Redirect::to(&format!(
        "/merchants/{merchant_id}/labor/departments/{department_id}/week?week={day}&day={day}&done={done}"
    ))
    .into_response())
}

// ----- Tools › Import POS -----

struct ImportForm {
    departments: Vec<String>,
    from: String,
    until: String,
    overwrite_approved: bool,
}

async fn import_page(
    s: &AppState,
    viewer: &Viewer,
    merchant: &Merchant,
    done: &Done,
    form: &ImportForm,
    problems: &Problems,
    status: StatusCode,
) -> Result<Response, Page> {
    let depts = departments::list(&s.engine, &merchant.id).await?;
    let runs = imports::list(&s.engine, &merchant.id).await?;
    let name = |id: &str| {
        depts
            .iter()
            .find(|d| d.id == id)
            .map_or_else(|| id.to_owned(), |d| d.name.clone())
    };
    let body = html! {
        h1 { "Tools › Import POS" }
        (sub_nav(&merchant.id, "import"))
        (done.show(NOTICES))
        form.card #import method="post" action=(format!("/merchants/{}/labor/import", merchant.id)) novalidate {
            input type="hidden" name="csrf" value=(viewer.csrf);
            @if let Some(m) = problems.of("form") { p.problem #import-problem role="alert" { (m) } }
            fieldset #import-departments {
                legend { "Departments (none ticked: all)" }
                @if depts.is_empty() { p.muted { "No departments yet." } }
                @for d in &depts {
                    label.check {
                        input type="checkbox" name="department" value=(d.id) checked[form.departments.contains(&d.id)];
                        " " (d.name)
                    }
                }
            }
            label for="from" { "From" }
            input #from type="date" name="from" value=(form.from) aria-invalid=[problems.invalid("from")];
            (problems.show("from"))
            label for="until" { "Until" }
            input #until type="date" name="until" value=(form.until) aria-invalid=[problems.invalid("until")];
            (problems.show("until"))
            label.check {
                input #overwrite_approved type="checkbox" name="overwrite_approved" value="on" checked[form.overwrite_approved];
                " Overwrite approved numbers"
            }
            p { button.primary #run-import type="submit" { "Import" } }
        }
        h2 { "Imports" }
        @if runs.is_empty() {
            p.muted #no-imports { "No imports yet." }
        } @else {
            table #imports {
                tr { th { "Requested" } th { "Kind" } th { "Departments" } th { "Range" } th { "Progress" } th { "State" } }
                @for r in &runs {
                    tr data-import=(r.id) data-state=(r.state) {
                        td { (at(r.created_at, &merchant.timezone)) div.muted { (r.requested_by) } }
                        td { (r.kind) }
                        td { @if r.departments.is_empty() { "all" } @else { (r.departments.iter().map(|d| name(d)).collect::<Vec<_>>().join(", ")) } }
                        td { (r.from_date) " – " (r.until_date) @if r.overwrite_approved { div.muted { "overwrites approved" } } }
                        td {
                            progress max=(r.days_total.max(1)) value=(r.days_done) {}
                            " " span.progress-count { (r.days_done) " of " (r.days_total) " days" }
                            @if r.days_failed > 0 { div.field-error { (r.days_failed) " failed" } }
                        }
                        td { (r.state) @if let Some(e) = &r.error { div.field-error { (e) } } }
                    }
                }
            }
        }
    };
    Ok(page(viewer, merchant, status, "Import POS", body))
}

pub async fn import(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let zone = merchant
        .timezone
        .parse::<chrono_tz::Tz>()
        .unwrap_or(chrono_tz::UTC);
    let today = now(&s).with_timezone(&zone).date_naive();
    let form = ImportForm {
        departments: Vec::new(),
        from: (today - Duration::days(7)).to_string(),
        until: (today - Duration::days(1)).to_string(),
        overwrite_approved: false,
    };
    import_page(
        &s,
        &viewer,
        &merchant,
        &done,
        &form,
        &Problems::default(),
        StatusCode::OK,
    )
    .await
}

pub async fn run_import(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    DashForm(f): DashForm<Fields>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let form = ImportForm {
        departments: f.all("department").map(str::to_owned).collect(),
        from: f.get("from").to_owned(),
        until: f.get("until").to_owned(),
        overwrite_approved: f.ticked("overwrite_approved"),
    };
    let mut problems = Problems::default();
    let mut date = |field: &str, raw: &str| -> Option<NaiveDate> {
        let parsed = raw.parse::<NaiveDate>().ok();
        if parsed.is_none() {
            problems.add(
                field,
                if raw.is_empty() {
                    "Pick a date.".to_owned()
                } else {
                    format!("`{raw}` is not a date; write it as YYYY-MM-DD.")
                },
            );
        }
        parsed
    };
    let (from, until) = (date("from", &form.from), date("until", &form.until));
    if let (Some(from), Some(until)) = (from, until) {
        let new = NewImport {
            departments: form.departments.clone(),
            from,
            until,
            overwrite_approved: form.overwrite_approved,
        };
        let next = format!("/merchants/{merchant_id}/labor/import?done=import");
        let who = actor(&viewer);
        let saving = imports::request(&s.engine, &merchant_id, new, &who);
        if let Some(done) = form::save(&mut problems, &["from", "until"], saving, &next).await? {
            return Ok(done);
        }
    }
    import_page(
        &s,
        &viewer,
        &merchant,
        &Done::default(),
        &form,
        &problems,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}
