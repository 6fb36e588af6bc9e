//! The merchant's loyalty program: how credit is earned and what counts.

use crate::earning::EarningRule;
use crate::eligible::TaxBasis;
use crate::tiers::{DowngradePolicy, SpendWindow, Tier, TierProgram};
use serde::{Deserialize, Serialize};
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::loyalty as store;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    /// No rule: members earn nothing automatically (manual credits still work).
    #[serde(default)]
    pub earning: Option<EarningRule>,
    #[serde(default)]
    pub tax_basis: TaxBasis,
    /// Whether reversing credit that was already spent may take the balance below zero.
    #[serde(default = "yes")]
    pub allow_negative_balance: bool,
    /// How far back a new member (or a new e-mail) claims unattributed orders.
    #[serde(default = "thirty")]
    pub claim_window_days: u32,
    /// Spend-based tiers; none when absent.
    #[serde(default)]
    pub tiers: Option<TierSettings>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSettings {
    pub tiers: Vec<Tier>,
    #[serde(default)]
    pub window: SpendWindow,
    #[serde(default)]
    pub policy: DowngradePolicy,
}

impl TierSettings {
    pub fn program(&self) -> Result<TierProgram, String> {
        TierProgram::new(self.tiers.clone(), self.window, self.policy)
    }
}

fn yes() -> bool {
    true
}

fn thirty() -> u32 {
    30
}

impl Default for Program {
    fn default() -> Self {
        Program {
            earning: None,
            tax_basis: TaxBasis::default(),
            allow_negative_balance: true,
            claim_window_days: 30,
            tiers: None,
        }
    }
}

impl Program {
    pub fn validate(&self) -> Result<(), EngineError> {
        if let Some(rule) = &self.earning {
            rule.validate().map_err(EngineError::Invalid)?;
        }
        if let Some(t) = &self.tiers {
            t.program().map_err(EngineError::Invalid)?;
        }
        if self.claim_window_days > 3650 {
            return Err(EngineError::Invalid(format!(
                "`claim_window_days` is {}; use at most 3650",
                self.claim_window_days
            )));
        }
        Ok(())
    }
}

/// The merchant's program (the default until one is saved).
pub async fn get(engine: &Engine, merchant_id: &str) -> Result<Program, EngineError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    load(&mut c, merchant_id).await
}

pub(crate) async fn load(
    c: &mut tillbridge_store::Conn,
    merchant_id: &str,
) -> Result<Program, EngineError> {
    match store::program(c, merchant_id).await? {
        Some(v) => serde_json::from_value(v).map_err(|e| {
            EngineError::Invalid(format!("the stored loyalty program is unreadable: {e}"))
        }),
        None => Ok(Program::default()),
    }
}

/// Saves the program. A changed earning rule applies to purchases that earn from now on;
/// purchases keep the rule they first earned under.
pub async fn put(
    engine: &Engine,
    merchant_id: &str,
    program: Program,
) -> Result<Program, EngineError> {
    engine.merchant(merchant_id).await?;
    program.validate()?;
    let mut program = program;
    if let Some(t) = program.tiers.as_mut() {
        // Kept in ascending order of threshold.
        t.tiers = t.program().map_err(EngineError::Invalid)?.tiers;
    }
    let value = serde_json::to_value(&program).map_err(|e| EngineError::Invalid(e.to_string()))?;
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    store::put_program(&mut tx, merchant_id, &value, now).await?;
    tillbridge_engine::merchants::emit(
        &mut tx,
        merchant_id,
        "loyalty.program_updated",
        merchant_id,
        value,
        now,
    )
    .await?;
    tillbridge_store::commit(tx).await?;
    Ok(program)
}
