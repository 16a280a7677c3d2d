//! The region table of protocol §6: six French continent names and the country codes each requires.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A selectable region. The wire form is the French name, with precomposed accents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    Afrique,
    AmeriqueDuNord,
    AmeriqueDuSud,
    Asie,
    Europe,
    Oceanie,
}

/// A country code as the client sends it (mostly ISO 3166-1 alpha-3; see `Region::codes`).
pub type CountryCode = &'static str;

const AFRIQUE: &[CountryCode] = &[
    "AGO", "BDI", "BEN", "BFA", "BWA", "CAF", "CIV", "CMR", "COD", "COG", "DJI", "DZA", "EGY", "ERI", "ETH", "GAB",
    "GHA", "GIN", "GMB", "GNB", "GNQ", "KEN", "LBR", "LBY", "LSO", "MAR", "MDG", "MLI", "MOZ", "MRT", "MWI", "NAM",
    "NER", "NGA", "RWA", "SDN", "SDS", "SEN", "SLE", "SOM", "SWZ", "TCD", "TGO", "TUN", "TZA", "UGA", "ZAF", "ZMB",
    "ZWE",
];
const AMERIQUE_DU_NORD: &[CountryCode] = &[
    "BHS", "BLZ", "CAN", "CRI", "CUB", "DOM", "GRL", "GTM", "HND", "HTI", "JAM", "MEX", "NIC", "PAN", "PRI", "SLV",
    "TTO", "USA",
];
const AMERIQUE_DU_SUD: &[CountryCode] =
    &["ARG", "BOL", "BRA", "CHL", "COL", "ECU", "FLK", "GUY", "PER", "PRY", "SUR", "URY", "VEN"];
const ASIE: &[CountryCode] = &[
    "AFG", "ARE", "ARM", "AZE", "BGD", "BRN", "BTN", "CHN", "CYP", "GEO", "IDN", "IND", "IRN", "IRQ", "ISR", "JOR",
    "JPN", "KAZ", "KGZ", "KHM", "KOR", "KWT", "LAO", "LBN", "LKA", "MMR", "MNG", "MYS", "NPL", "OMN", "PAK", "PHL",
    "PRK", "PSX", "QAT", "SAU", "SYR", "THA", "TJK", "TKM", "TLS", "TUR", "TWN", "UZB", "VNM", "YEM",
];
const EUROPE: &[CountryCode] = &[
    "ALB", "AUT", "BEL", "BGR", "BIH", "BLR", "CHE", "CZE", "DEU", "DNK", "ESP", "EST", "FIN", "FRA", "GBR", "GRC",
    "HRV", "HUN", "IRL", "ISL", "ITA", "KOS", "LTU", "LUX", "LVA", "MDA", "MKD", "MNE", "NLD", "NOR", "POL", "PRT",
    "ROU", "RUS", "SRB", "SVK", "SVN", "SWE", "UKR",
];
const OCEANIE: &[CountryCode] = &["AUS", "FJI", "NCL", "NZL", "PNG", "SLB", "VUT"];

impl Region {
    /// Every region, in the protocol table's order.
    pub const ALL: [Region; 6] =
        [Region::Afrique, Region::AmeriqueDuNord, Region::AmeriqueDuSud, Region::Asie, Region::Europe, Region::Oceanie];

    /// The wire identifier (`"Amérique du Nord"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Region::Afrique => "Afrique",
            Region::AmeriqueDuNord => "Amérique du Nord",
            Region::AmeriqueDuSud => "Amérique du Sud",
            Region::Asie => "Asie",
            Region::Europe => "Europe",
            Region::Oceanie => "Océanie",
        }
    }

    /// The region with exactly this wire identifier; comparison is byte-wise, so `Australie` or a
    /// decomposed `é` is unknown.
    pub fn parse(s: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The distinct codes this region requires, sorted.
    pub const fn codes(self) -> &'static [CountryCode] {
        match self {
            Region::Afrique => AFRIQUE,
            Region::AmeriqueDuNord => AMERIQUE_DU_NORD,
            Region::AmeriqueDuSud => AMERIQUE_DU_SUD,
            Region::Asie => ASIE,
            Region::Europe => EUROPE,
            Region::Oceanie => OCEANIE,
        }
    }

    /// The region a code belongs to; `None` for codes outside the table (`ATF` among them).
    pub fn of_code(code: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.codes().binary_search(&code).is_ok())
    }
}

/// The distinct codes required by a set of regions, in region order then code order.
pub fn required_codes(regions: &[Region]) -> Vec<CountryCode> {
    let mut seen: Vec<Region> = Vec::with_capacity(regions.len());
    let mut codes = Vec::new();
    for &r in regions {
        if !seen.contains(&r) {
            seen.push(r);
            codes.extend_from_slice(r.codes());
        }
    }
    codes
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The French name only, as [`Region::parse`] reads it.
impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Region::parse(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown region {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn distinct_counts_match_the_protocol_table() {
        let counts: Vec<usize> = Region::ALL.iter().map(|r| r.codes().len()).collect();
        assert_eq!(counts, [49, 18, 13, 46, 39, 7]);
        assert_eq!(required_codes(&Region::ALL).len(), 172);
    }

    #[test]
    fn codes_are_sorted_distinct_and_in_exactly_one_region() {
        let mut all = HashSet::new();
        for r in Region::ALL {
            assert!(r.codes().windows(2).all(|w| w[0] < w[1]), "{r} is sorted and distinct");
            for c in r.codes() {
                assert!(all.insert(*c), "{c} belongs to two regions");
                assert_eq!(Region::of_code(c), Some(r));
            }
        }
    }

    #[test]
    fn non_iso_codes_are_present_and_atf_is_not() {
        assert_eq!(Region::of_code("SDS"), Some(Region::Afrique));
        assert_eq!(Region::of_code("PSX"), Some(Region::Asie));
        assert_eq!(Region::of_code("KOS"), Some(Region::Europe));
        assert_eq!(Region::of_code("CYP"), Some(Region::Asie));
        assert_eq!(Region::of_code("TUR"), Some(Region::Asie));
        assert_eq!(Region::of_code("RUS"), Some(Region::Europe));
        assert_eq!(Region::of_code("ATF"), None);
    }

    #[test]
    fn parse_is_exact_and_round_trips() {
        for r in Region::ALL {
            assert_eq!(Region::parse(r.as_str()), Some(r));
        }
        assert_eq!(Region::parse("Australie"), None);
        assert_eq!(Region::parse("afrique"), None);
        // "Océanie" with a combining acute accent is not the precomposed identifier.
        assert_eq!(Region::parse("Oce\u{301}anie"), None);
        assert_eq!(serde_json::to_string(&Region::AmeriqueDuNord).unwrap(), "\"Amérique du Nord\"");
    }

    #[test]
    fn required_codes_ignore_repeated_regions() {
        let codes = required_codes(&[Region::Oceanie, Region::Oceanie, Region::AmeriqueDuSud]);
        assert_eq!(codes.len(), 20);
        assert_eq!(codes[0], "AUS");
    }
}
