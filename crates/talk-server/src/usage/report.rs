//! `GET /v1/admin/usage`: the daily rows and totals of a range.
// Issue 18, metering: owned by the metering part.
