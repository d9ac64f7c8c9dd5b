//! Audience members (an address, a name, and attributes such as `department` that become
//! invitation properties), parsed row by row from JSON or CSV so that every bad row is
//! reported with where it is.

use std::collections::{BTreeMap, HashMap};

use super::email::EmailAddress;
use super::properties::{Properties, MAX_PROPERTIES};
use super::Invalid;

/// Most members one upload may carry.
pub const MAX_MEMBERS: usize = 50_000;
/// Longest member name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most bad rows reported in one answer (the count is always given).
pub const MAX_REPORTED: usize = 20;
/// The property a campaign sets on each invitation: no attribute may take its name.
pub const CYCLE_PROPERTY: &str = "cycle";

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The address.
    pub email: EmailAddress,
    /// The name, if any.
    pub name: Option<String>,
    /// Attributes: invitation properties of every survey sent to the member.
    pub attributes: Properties,
}

/// A bad row: where (`line 4` of a CSV file, `members[3]` of JSON), which field, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The row: `line N` or `members[N]`.
    pub row: String,
    /// The column or field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// An upload parsed: the good members, and every bad row.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Members of the good rows, in upload order.
    pub members: Vec<Member>,
    /// The bad rows, in upload order.
    pub errors: Vec<RowError>,
}

impl Parsed {
    /// The members, or a 422 naming the first bad rows when any (unless `skip_invalid`,
    /// which drops them).
    pub fn accept(self, skip_invalid: bool) -> Result<(Vec<Member>, Vec<RowError>), Invalid> {
        if self.errors.is_empty() || skip_invalid {
            return Ok((self.members, self.errors));
        }
        let first = &self.errors[0];
        let listed: Vec<String> = self
            .errors
            .iter()
            .take(MAX_REPORTED)
            .map(|e| format!("{} ({}): {}", e.row, e.field, e.message))
            .collect();
        Err(Invalid::new(
            first.row.clone(),
            format!(
                "{} bad row(s), nothing imported (send skip_invalid=true to import the rest): {}",
                self.errors.len(),
                listed.join("; ")
            ),
        ))
    }
}

/// One member as given: the address, a name, and attributes as text.
#[derive(Debug, Clone, Default)]
pub struct RawMember {
    /// The address.
    pub email: String,
    /// The name.
    pub name: Option<String>,
    /// Attributes.
    pub attributes: BTreeMap<String, String>,
}

/// Checks one member; the error names the field.
fn member(raw: RawMember) -> Result<Member, Invalid> {
    let email = EmailAddress::parse("email", &raw.email)?;
    let name = raw
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if let Some(n) = &name {
        if n.chars().count() > MAX_NAME_CHARS {
            return Err(Invalid::new(
                "name",
                format!("is at most {MAX_NAME_CHARS} characters"),
            ));
        }
        super::text::check("name", n)?;
    }
    if raw.attributes.contains_key(CYCLE_PROPERTY) {
        return Err(Invalid::new(
            CYCLE_PROPERTY,
            "is set by campaigns (the cycle's number): name the attribute otherwise",
        ));
    }
    if raw.attributes.len() >= MAX_PROPERTIES {
        return Err(Invalid::new(
            "attributes",
            format!("at most {} attributes", MAX_PROPERTIES - 1),
        ));
    }
    for (k, v) in &raw.attributes {
        super::text::check(k, v)?;
    }
    let attributes = Properties::parse(raw.attributes)
        .map_err(|e| Invalid::new(e.field.replacen("properties.", "", 1), e.message))?;
    Ok(Member {
        email,
        name,
        attributes,
    })
}

/// Checks every row; an address given twice keeps its later row (as a second upload would).
pub fn parse_rows(
    rows: impl IntoIterator<Item = (String, Result<RawMember, Invalid>)>,
) -> Result<Parsed, Invalid> {
    let mut out = Parsed::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, (row, raw)) in rows.into_iter().enumerate() {
        if i >= MAX_MEMBERS {
            return Err(Invalid::new(
                "members",
                format!("at most {MAX_MEMBERS} members per upload"),
            ));
        }
        match raw.and_then(member) {
            Ok(m) => match seen.get(&m.email.key()) {
                Some(&at) => out.members[at] = m,
                None => {
                    seen.insert(m.email.key(), out.members.len());
                    out.members.push(m);
                }
            },
            Err(e) => out.errors.push(RowError {
                row,
                field: e.field,
                message: e.message,
            }),
        }
    }
    Ok(out)
}

/// Parses a CSV upload: a header row with `email`, optionally `name`, and one column per
/// attribute (an empty cell leaves that attribute out). Line 1 is the header.
pub fn from_csv(bytes: &[u8]) -> Result<Parsed, Invalid> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Invalid::new("line 1", format!("is not a CSV header row: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    if !header.iter().any(|h| h == "email") {
        return Err(Invalid::new(
            "line 1",
            "the header row has no `email` column",
        ));
    }
    let mut names = std::collections::HashSet::new();
    for h in &header {
        if !names.insert(h.as_str()) {
            return Err(Invalid::new(
                "line 1",
                format!("column `{h}` appears twice"),
            ));
        }
        if h != "email" && h != "name" {
            super::properties::check_key("line 1", h)?;
        }
    }
    let rows = reader.records().enumerate().map(|(i, record)| {
        let line = record
            .as_ref()
            .ok()
            .and_then(|r| r.position().map(|p| p.line()))
            .unwrap_or(i as u64 + 2);
        let row = format!("line {line}");
        let raw = record
            .map_err(|e| Invalid::new("row", format!("is not valid CSV: {e}")))
            .map(|record| {
                let mut m = RawMember::default();
                for (column, cell) in header.iter().zip(record.iter()) {
                    match column.as_str() {
                        "email" => m.email = cell.to_owned(),
                        "name" => m.name = Some(cell.to_owned()),
                        _ if cell.is_empty() => {}
                        key => {
                            m.attributes.insert(key.to_owned(), cell.to_owned());
                        }
                    }
                }
                m
            });
        (row, raw)
    });
    parse_rows(rows)
}

/// Parses `members` of a JSON body: an array of `{"email", "name"?, "attributes"?}`, where
/// attribute values may be strings, numbers or booleans (kept as text). Absent = no members.
pub fn from_json(members: Option<&serde_json::Value>) -> Result<Parsed, Invalid> {
    use serde_json::Value;
    let items = match members {
        None => return Ok(Parsed::default()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(Invalid::new("members", "must be an array of members")),
    };
    if items.len() > MAX_MEMBERS {
        return Err(Invalid::new(
            "members",
            format!("at most {MAX_MEMBERS} members per upload"),
        ));
    }
    // The shape is checked first, for the whole upload: a malformed member is a malformed
    // request (422 whatever `skip_invalid` says); only its values are checked row by row.
    let mut raws = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        raws.push((format!("members[{i}]"), Ok(shape(i, item)?)));
    }
    parse_rows(raws)
}

/// Member `i` of a JSON upload, its shape checked: an object of `email` (a string), `name`
/// (a string or null) and `attributes` (an object of strings, numbers or booleans).
fn shape(i: usize, item: &serde_json::Value) -> Result<RawMember, Invalid> {
    use serde_json::Value;
    let at = |field: &str| format!("members[{i}].{field}");
    let Value::Object(o) = item else {
        return Err(Invalid::new(format!("members[{i}]"), "must be an object"));
    };
    if let Some(unknown) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "email" | "name" | "attributes"))
    {
        return Err(Invalid::new(at(unknown), "is not a member field"));
    }
    let text = |key: &str| match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Invalid::new(at(key), "must be a string")),
    };
    let email = text("email")?.ok_or_else(|| Invalid::new(at("email"), "is required"))?;
    let mut attributes = BTreeMap::new();
    match o.get("attributes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(a)) => {
            for (k, v) in a {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => {
                        return Err(Invalid::new(
                            at(&format!("attributes.{k}")),
                            "must be a string, number or boolean",
                        ))
                    }
                };
                attributes.insert(k.clone(), v);
            }
        }
        Some(_) => return Err(Invalid::new(at("attributes"), "must be an object")),
    }
    Ok(RawMember {
        email,
        name: text("name")?,
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_row_is_reported_with_its_line_and_nothing_is_accepted() {
        let csv = "email,name,department\nana@example.com,Ana,eng\nnot-an-address,Bo,ops\n\
                   cy@example.com,Cy,sales\nana@example.com,Ana again,ops\nx@y.z,A\u{7},eng\n";
        let parsed = from_csv(csv.as_bytes()).unwrap();
        assert_eq!(
            parsed.members.len(),
            2,
            "an address given twice keeps its later row"
        );
        assert_eq!(parsed.members[0].name.as_deref(), Some("Ana again"));
        assert_eq!(parsed.errors[0].row, "line 3");
        assert_eq!(parsed.errors[0].field, "email");
        assert_eq!(parsed.errors[1].row, "line 6");
        assert_eq!(parsed.errors[1].field, "name");
        let err = from_csv(csv.as_bytes()).unwrap().accept(false).unwrap_err();
        assert_eq!(err.field, "line 3");
        assert!(err.message.contains("2 bad row(s)"), "{}", err.message);
        let (members, skipped) = from_csv(csv.as_bytes()).unwrap().accept(true).unwrap();
        assert_eq!((members.len(), skipped.len()), (2, 2));
        let attributes: Vec<_> = members[0].attributes.iter().collect();
        assert_eq!(attributes, vec![("department", "ops")]);
    }

    #[test]
    fn the_header_must_name_an_email_column_and_attributes_must_be_keys() {
        assert_eq!(
            from_csv(b"mail,name\nx@y.z,A\n").unwrap_err().field,
            "line 1"
        );
        assert_eq!(
            from_csv(b"email,dept name\nx@y.z,A\n").unwrap_err().field,
            "line 1"
        );
        let parsed = from_csv(b"email,cycle\nx@y.z,3\n").unwrap();
        assert_eq!(parsed.errors[0].field, "cycle");
        let parsed = from_csv(b"email,team\nx@y.z\n").unwrap();
        assert_eq!(parsed.errors[0].row, "line 2", "a short row is a bad row");
    }
}
