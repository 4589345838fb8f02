//! A deliberately tiny `--flag value` parser: the load generator has a handful of numeric
//! flags and we do not want a dependency (the crate may only use libc and socket2).

use std::collections::HashMap;
use std::str::FromStr;

/// Parsed `--name value` pairs of one subcommand.
pub struct Flags {
    values: HashMap<String, String>,
}

impl Flags {
    /// Parses `args` (everything after the subcommand). Every flag takes exactly one value,
    /// given as `--name value` or `--name=value`; names not in `allowed` are usage errors, so a
    /// typo never silently falls back to a default.
    pub fn parse(args: &[String], allowed: &[&str]) -> Result<Flags, String> {
        let mut values = HashMap::new();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let Some(body) = arg.strip_prefix("--") else {
                return Err(format!(
                    "unexpected argument '{arg}' (flags look like --name value)"
                ));
            };
            let (name, value) = match body.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => {
                    let value = rest
                        .next()
                        .ok_or_else(|| format!("--{body} needs a value"))?;
                    (body.to_string(), value.clone())
                }
            };
            if !allowed.contains(&name.as_str()) {
                return Err(format!(
                    "unknown flag --{name} (known: {})",
                    allowed
                        .iter()
                        .map(|a| format!("--{a}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if values.insert(name.clone(), value).is_some() {
                return Err(format!("--{name} given twice"));
            }
        }
        Ok(Flags { values })
    }

    /// The raw text of a flag, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A flag that must be present.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.text(name)
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// A flag parsed as `T`, or `default` when absent.
    pub fn number<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.text(name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<T>()
                .map_err(|_| format!("--{name}: '{text}' is not a valid number")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic: that is how they fail
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_both_spellings() {
        let flags = Flags::parse(
            &strings(&["--size", "100", "--to=127.0.0.1:9"]),
            &["size", "to"],
        )
        .unwrap();
        assert_eq!(flags.number::<usize>("size", 0).unwrap(), 100);
        assert_eq!(flags.required("to").unwrap(), "127.0.0.1:9");
        assert_eq!(flags.number::<u64>("rate", 7).unwrap(), 7);
    }

    #[test]
    fn rejects_unknown_missing_and_repeated() {
        assert!(Flags::parse(&strings(&["--sise", "1"]), &["size"]).is_err());
        assert!(Flags::parse(&strings(&["--size"]), &["size"]).is_err());
        assert!(Flags::parse(&strings(&["--size", "1", "--size", "2"]), &["size"]).is_err());
        assert!(Flags::parse(&strings(&["size"]), &["size"]).is_err());
        let flags = Flags::parse(&strings(&["--size", "x"]), &["size"]).unwrap();
        assert!(flags.number::<usize>("size", 0).is_err());
    }
}
