//! Gate reports.
