//! A strict reader of the Prometheus text exposition format (version
//! 0.0.4), for the `/metrics` tests: it refuses what a Prometheus server
//! would refuse (a malformed line, a sample of an undeclared family, a
//! family declared twice or after its samples), so a test that reads a
//! scrape with it also checks that the scrape parses.

use std::collections::{BTreeMap, HashMap};

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A whole scrape.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    /// Each family's `# TYPE`: `counter`, `gauge`, `histogram`…
    pub types: HashMap<String, String>,
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Reads `text`; the error names the first line at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut exposition = Self::default();
        for (number, line) in text.lines().enumerate() {
            let fault = |why: &str| format!("line {}: {why}: {line:?}", number + 1);
            if line.trim().is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.split_whitespace();
                if words.next() == Some("TYPE") {
                    let name = words.next().ok_or_else(|| fault("a TYPE without a name"))?;
                    let kind = words.next().ok_or_else(|| fault("a TYPE without a type"))?;
                    if !valid_name(name) {
                        return Err(fault("not a metric name"));
                    }
                    let known = ["counter", "gauge", "histogram", "summary", "untyped"];
                    if !known.contains(&kind) {
                        return Err(fault("not a metric type"));
                    }
                    if exposition
                        .samples
                        .iter()
                        .any(|s| family_of(&s.name) == name)
                    {
                        return Err(fault("a TYPE after its family's samples"));
                    }
                    if exposition
                        .types
                        .insert(name.to_owned(), kind.to_owned())
                        .is_some()
                    {
                        return Err(fault("a family declared twice"));
                    }
                }
                continue;
            }
            let sample = sample(line).map_err(|why| fault(&why))?;
            let family = family_of(&sample.name);
            let declared = exposition
                .types
                .get(family)
                .or_else(|| exposition.types.get(&sample.name));
            if declared.is_none() {
                return Err(fault("a sample of a family without a TYPE"));
            }
            exposition.samples.push(sample);
        }
        Ok(exposition)
    }

    /// The samples named `name` whose labels include every pair of `labels`.
    pub fn find<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |sample| {
            sample.name == name
                && labels
                    .iter()
                    .all(|(k, v)| sample.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The one sample named `name` with these labels among others; panics
    /// when there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self.find(name, labels).collect();
        assert!(
            !found.is_empty(),
            "no sample {name} {labels:?} in the scrape"
        );
        found.iter().map(|s| s.value).sum()
    }
}

/// The family a sample belongs to: a histogram's `_bucket`, `_sum` and
/// `_count` series are its own.
fn family_of(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or_else(|| "no value".to_owned())?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err("not a metric name".into());
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inside) = rest.strip_prefix('{') {
        let mut chars = inside.char_indices().peekable();
        let mut key = String::new();
        let end = loop {
            let (i, c) = chars.next().ok_or("an unclosed label set")?;
            match c {
                '}' if key.is_empty() => break i,
                '=' => {
                    if chars.next().map(|(_, c)| c) != Some('"') {
                        return Err("a label value without quotes".into());
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next().ok_or("an unclosed label value")?.1 {
                            '"' => break,
                            '\\' => match chars.next().ok_or("a dangling escape")?.1 {
                                'n' => value.push('\n'),
                                escaped @ ('\\' | '"') => value.push(escaped),
                                _ => return Err("an unknown escape".into()),
                            },
                            other => value.push(other),
                        }
                    }
                    if !valid_name(&key) || key.contains(':') {
                        return Err(format!("{key:?} is not a label name"));
                    }
                    if labels.insert(std::mem::take(&mut key), value).is_some() {
                        return Err("a label given twice".into());
                    }
                    match chars.next().ok_or("an unclosed label set")? {
                        (_, ',') => {}
                        (i, '}') => break i,
                        _ => return Err("labels not separated by commas".into()),
                    }
                }
                c => key.push(c),
            }
        };
        rest = &inside[end + 1..];
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number
            .parse()
            .map_err(|_| format!("{number:?} is not a number"))?,
    };
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| "a timestamp that is not an integer".to_owned())?;
    }
    if fields.next().is_some() {
        return Err("more after the value and timestamp".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_scrape_parses() {
        let text = "# HELP a_total things\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\"} 3\n\
                    # TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n";
        let parsed = Exposition::parse(text).expect("parses");
        assert_eq!(parsed.types["h"], "histogram");
        assert_eq!(parsed.value("a_total", &[("y", "q\"")]), 3.0);
        assert_eq!(parsed.value("h_count", &[]), 2.0);
    }

    #[test]
    fn malformed_scrapes_are_refused() {
        for bad in [
            "a 1\n",
            "# TYPE a counter\na{x=1} 1\n",
            "# TYPE a counter\na{x=\"1\" 1\n",
            "# TYPE a counter\na one\n",
            "# TYPE a counter\n# TYPE a counter\n",
            "# TYPE a counter\na 1\n# TYPE a counter\n",
            "# TYPE a whatever\n",
        ] {
            assert!(Exposition::parse(bad).is_err(), "{bad:?}");
        }
    }
}
