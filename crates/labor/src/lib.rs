//! The labor module: actual POS sales per department and hour, imported into each department's
//! weekly balance for workforce planning. The rules are plain functions: [`calendar`] (business
//! dates, local hours, DST, schedules) and [`figures`] (the eight field definitions). The
//! services around them read and write through the store: [`settings`], [`departments`],
//! [`imports`] (scheduled and historical, replace semantics, approvals, audit), [`schedule`]
//! and [`balance`] (the API view and CSV). [`consumer::Consumer`] runs imports and the schedule
//! from the merchant's labor job.

pub mod balance;
pub mod calendar;
pub mod consumer;
pub mod departments;
pub mod figures;
pub mod imports;
pub mod schedule;
pub mod settings;
