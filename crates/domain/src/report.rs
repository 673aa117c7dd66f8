//! How a usage report groups cards and how any report is written out.

/// The grouping of a monthly usage report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupBy {
    Sim,
    Pool,
    Plan,
    Tag,
    Account,
}

impl GroupBy {
    pub const ALL: [GroupBy; 5] = [Self::Sim, Self::Pool, Self::Plan, Self::Tag, Self::Account];

    /// The name used on the command line and in `group_by=` query values.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sim => "sim",
            Self::Pool => "pool",
            Self::Plan => "plan",
            Self::Tag => "tag",
            Self::Account => "account",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.name() == name)
    }
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Html,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 4] = [Self::Table, Self::Csv, Self::Json, Self::Html];

    pub fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Html => "html",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for g in GroupBy::ALL {
            assert_eq!(GroupBy::from_name(g.name()), Some(g));
        }
        for f in OutputFormat::ALL {
            assert_eq!(OutputFormat::from_name(f.name()), Some(f));
        }
        assert_eq!(GroupBy::from_name("SIM"), None);
    }
}
