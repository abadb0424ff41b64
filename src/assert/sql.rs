//! `is-sql` and `contains-sql`: the output parses as SQL in a dialect (`sqlparser`), and the
//! tables and columns it touches are on the allowed lists. promptfoo uses node-sql-parser;
//! dialect names and the `action::schema::table` authority lists follow it, so an existing
//! `value: {databaseType, allowedTables, allowedColumns}` keeps its meaning.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use regex::Regex;
use serde_json::Value;
use sqlparser::ast::{
    visit_expressions, visit_relations, Expr, ObjectName, SelectItem, SetExpr, Statement,
};
use sqlparser::dialect::{dialect_from_str, Dialect};
use sqlparser::parser::Parser;

/// Dialect names accepted in `databaseType` (node-sql-parser's, where `sqlparser` has one).
pub const DIALECTS: &[(&str, &str)] = &[
    ("mysql", "mysql"),
    ("mariadb", "mysql"),
    ("postgresql", "postgresql"),
    ("postgres", "postgresql"),
    ("bigquery", "bigquery"),
    ("hive", "hive"),
    ("sqlite", "sqlite"),
    ("snowflake", "snowflake"),
    ("redshift", "redshift"),
    ("transactsql", "mssql"),
    ("mssql", "mssql"),
    ("athena", "generic"),
    ("trino", "generic"),
    ("flinksql", "generic"),
    ("noql", "generic"),
    ("generic", "generic"),
    ("ansi", "ansi"),
    ("duckdb", "duckdb"),
    ("clickhouse", "clickhouse"),
    ("databricks", "databricks"),
    ("spark", "spark"),
    ("oracle", "oracle"),
];

/// A compiled `is-sql` / `contains-sql` value.
#[derive(Debug)]
pub struct SqlSpec {
    /// The name as the user wrote it (for messages).
    pub database: String,
    dialect: String,
    tables: Option<Vec<Regex>>,
    columns: Option<Vec<Regex>>,
}

impl SqlSpec {
    /// Read `value:` (none, or `{databaseType, allowedTables, allowedColumns}`).
    pub fn parse(value: Option<&Value>) -> Result<SqlSpec, String> {
        let mut spec = SqlSpec {
            database: "MySQL".into(),
            dialect: "mysql".into(),
            tables: None,
            columns: None,
        };
        let Some(v) = value.filter(|v| !v.is_null()) else {
            return Ok(spec);
        };
        let Value::Object(m) = v else {
            return Err("`value` must be `{databaseType, allowedTables, allowedColumns}`".into());
        };
        if let Some(k) = m.keys().find(|k| {
            !matches!(
                k.as_str(),
                "databaseType" | "allowedTables" | "allowedColumns"
            )
        }) {
            return Err(format!(
                "unknown field `{k}` (use `databaseType`, `allowedTables`, `allowedColumns`)"
            ));
        }
        if let Some(db) = m.get("databaseType") {
            let name = db
                .as_str()
                .ok_or("`databaseType` must be a name such as `MySQL`")?;
            let lower = name.to_ascii_lowercase();
            let Some((_, d)) = DIALECTS.iter().find(|(n, _)| *n == lower) else {
                return Err(format!(
                    "unknown `databaseType` `{name}` (one of {})",
                    DIALECTS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            spec.database = name.to_string();
            spec.dialect = d.to_string();
        }
        let list = |key: &str| -> Result<Option<Vec<Regex>>, String> {
            let Some(v) = m.get(key) else { return Ok(None) };
            let items = v.as_array().filter(|a| !a.is_empty()).ok_or(format!(
                "`{key}` must be a list of `action::schema::name` rules"
            ))?;
            items
                .iter()
                .map(|i| {
                    let s = i
                        .as_str()
                        .filter(|s| !s.trim().is_empty())
                        .ok_or(format!("`{key}` must be a list of non-empty strings"))?;
                    Regex::new(&format!("(?i)^(?:{s})$"))
                        .map_err(|e| format!("`{key}`: `{s}` is not a valid pattern: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        };
        spec.tables = list("allowedTables")?;
        spec.columns = list("allowedColumns")?;
        Ok(spec)
    }

    fn dialect(&self) -> Box<dyn Dialect> {
        dialect_from_str(&self.dialect)
            .unwrap_or_else(|| Box::new(sqlparser::dialect::GenericDialect))
    }

    /// Check `sql`: `Err` holds every reason it fails, as promptfoo words them.
    pub fn check(&self, sql: &str) -> Result<(), String> {
        let mut reasons = Vec::new();
        let parsed = Parser::parse_sql(&*self.dialect(), sql)
            .ok()
            .filter(|s| !s.is_empty());
        if parsed.is_none() {
            reasons.push(format!(
                "SQL statement does not conform to the provided {} database syntax.",
                self.database
            ));
        }
        if let Some(stmts) = &parsed {
            for (rules, kind, found) in [
                (
                    &self.tables,
                    "table",
                    self.tables.as_ref().map(|_| tables(stmts)),
                ),
                (
                    &self.columns,
                    "column",
                    self.columns.as_ref().map(|_| columns(stmts)),
                ),
            ] {
                let (Some(rules), Some(found)) = (rules, found) else {
                    continue;
                };
                if let Some(missing) = found.iter().find(|a| !rules.iter().any(|r| r.is_match(a))) {
                    reasons.push(format!(
                        "SQL validation failed: authority = '{missing}' is required in {kind} whiteList to execute SQL = '{}'.",
                        crate::text::one_line(sql, 120)
                    ));
                }
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons.join(" "))
        }
    }
}

/// The SQL `contains-sql` checks: the first fenced block (```sql or ```), else the output.
pub fn extract(output: &str) -> &str {
    if let Some(start) = output.find("```") {
        let rest = &output[start + 3..];
        let rest = rest.strip_prefix("sql").unwrap_or(rest);
        if let Some(end) = rest.find('`') {
            if rest[end..].starts_with("```") && end > 0 {
                return rest[..end].trim();
            }
        }
    }
    output
}

fn action(stmt: &Statement) -> String {
    match stmt {
        Statement::Query(_) => "select".into(),
        Statement::Insert(_) => "insert".into(),
        Statement::Update { .. } => "update".into(),
        Statement::Delete(_) => "delete".into(),
        other => other
            .to_string()
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase(),
    }
}

fn qualified(name: &ObjectName) -> (String, String) {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| p.to_string().trim_matches(['`', '"', '[', ']']).to_string())
        .collect();
    match parts.as_slice() {
        [] => ("null".into(), String::new()),
        [t] => ("null".into(), t.clone()),
        [.., s, t] => (s.clone(), t.clone()),
    }
}

/// `action::schema::table` for every table a statement touches; tables read inside a
/// statement that writes another are `select`.
fn tables(stmts: &[Statement]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for stmt in stmts {
        let act = action(stmt);
        let target = match stmt {
            Statement::Insert(i) => Some(i.table.to_string()),
            Statement::Update(u) => Some(u.table.relation.to_string()),
            _ => None,
        };
        let _ = visit_relations(stmt, |rel| {
            let (schema, table) = qualified(rel);
            let a = match &target {
                Some(t) if *t != rel.to_string() => "select",
                _ => act.as_str(),
            };
            out.insert(format!("{a}::{schema}::{table}"));
            ControlFlow::<()>::Continue(())
        });
    }
    out
}

/// `action::table::column` for every column a statement names (`null` when unqualified,
/// `(.*)` for `*`).
fn columns(stmts: &[Statement]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for stmt in stmts {
        match stmt {
            Statement::Insert(i) => {
                let (_, table) = match &i.table {
                    sqlparser::ast::TableObject::TableName(n) => qualified(n),
                    other => ("null".into(), other.to_string()),
                };
                for c in &i.columns {
                    out.insert(format!("insert::{table}::{}", qualified(c).1));
                }
            }
            Statement::Update(u) => {
                for a in &u.assignments {
                    let col = a.target.to_string();
                    let col = col.rsplit('.').next().unwrap_or(&col).to_string();
                    out.insert(format!("update::null::{col}"));
                }
            }
            Statement::Query(q) => {
                if let SetExpr::Select(s) = q.body.as_ref() {
                    for item in &s.projection {
                        if matches!(
                            item,
                            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
                        ) {
                            out.insert("select::null::(.*)".into());
                        }
                    }
                }
            }
            _ => {}
        }
        // Columns read anywhere in a statement (its WHERE, a subquery) are `select`.
        let read = "select";
        let _ = visit_expressions(stmt, |e| {
            match e {
                Expr::Identifier(id) => {
                    out.insert(format!("{read}::null::{}", id.value));
                }
                Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                    let t = &parts[parts.len() - 2].value;
                    let c = &parts[parts.len() - 1].value;
                    out.insert(format!("{read}::{t}::{c}"));
                }
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_checks_lists() {
        let plain = SqlSpec::parse(None).unwrap();
        assert!(plain.check("SELECT id, name FROM users").is_ok());
        assert!(plain
            .check("SELECT * FROM orders ORDERY BY order_date")
            .is_err());
        assert!(plain.check("").is_err());
        let t = SqlSpec::parse(Some(
            &json!({"allowedTables": ["(select|update|insert|delete)::null::departments"]}),
        ))
        .unwrap();
        assert!(t.check("SELECT * FROM departments").is_ok());
        let e = t.check("SELECT * FROM employees").unwrap_err();
        assert!(e.contains("'select::null::employees'"), "{e}");
        let c = SqlSpec::parse(Some(
            &json!({"allowedColumns": ["select::null::name", "update::null::id"]}),
        ))
        .unwrap();
        let e = c.check("SELECT id FROM t").unwrap_err();
        assert!(e.contains("'select::null::id'"), "{e}");
        let ins = SqlSpec::parse(Some(&json!({"allowedColumns": ["insert::department::dept_name", "insert::department::location"]}))).unwrap();
        assert!(ins
            .check("INSERT INTO department (dept_name, location) VALUES ('Sales', 'New York')")
            .is_ok());
        assert!(SqlSpec::parse(Some(&json!({"databaseType": "Cobol"}))).is_err());
        assert!(SqlSpec::parse(Some(&json!("PostgreSQL"))).is_err());
        assert_eq!(extract("Here:\n```sql\nSELECT 1\n```\n"), "SELECT 1");
        assert_eq!(extract("SELECT 1"), "SELECT 1");
    }
}
