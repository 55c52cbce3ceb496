//! UTC days and months as the counters store them (days since 1970-01-01), and their
//! `YYYY-MM-DD` / `YYYY-MM` names. Pure: no clock, no database.
// Issue 18, metering: owned by the metering part.
