//! The free-text scan of anonymised messages: national ID numbers (Norwegian, Swedish,
//! Danish), phone numbers, e-mail addresses, dates (in digits or words), week numbers,
//! class markers, given names and place names. A hit names its class, never the text.
//!
//! The text is normalised first, so that obfuscation does not hide an identifier: Unicode
//! NFKC (full-width and styled letters and digits become plain ones), invisible and format
//! characters dropped, other scripts' digits read as digits, every dash read as `-`, and any
//! run of spaces, dots, dashes, underscores, slashes, parentheses and `+` between digits
//! read as one separator. ID and phone numbers are looked for a second time in the text with
//! its numbers in words read as digits and its digit groups joined by filler words or
//! symbols ([`numbers`]). The scan is a floor under the sender's attestation, not a proof of
//! anonymity.

mod numbers;

use regex::Regex;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use unicode_normalization::UnicodeNormalization;

/// What class of identifier a text holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    /// Norwegian fødselsnummer, Swedish personnummer, Danish CPR number.
    NationalId,
    PhoneNumber,
    EmailAddress,
    /// An exact date (of birth or of an incident), in digits or with a month's name.
    ExactDate,
    /// A week number ("uke 12", "vecka 12").
    WeekNumber,
    /// A school class ("9B", "klasse 7", "årskurs 8").
    ClassMarker,
    /// A given name.
    PersonName,
    /// A municipality, district or town below the referring municipality.
    PlaceName,
    /// A referring unit that is not a municipality (a school, a named service).
    ReferringUnit,
}

/// The name lists a scan checks words against (lower-cased).
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    given_names: HashSet<String>,
    places: HashSet<String>,
    /// The most words a place name has.
    longest_place: usize,
}

/// A name list that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read name list {path}: {source}")]
pub struct LexiconError {
    path: PathBuf,
    source: std::io::Error,
}

impl Lexicon {
    /// Reads `given-names.txt` and `places.txt` from `dir` (one entry a line, `#` comments).
    pub fn load(dir: &Path) -> Result<Self, LexiconError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|text| {
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(|l| normalise(l).replace('.', "").to_lowercase())
                        .collect::<HashSet<String>>()
                })
                .map_err(|source| LexiconError { path, source })
        };
        let places = read("places.txt")?;
        let longest_place = places
            .iter()
            .map(|p| p.split(' ').count())
            .max()
            .unwrap_or(1);
        Ok(Self {
            given_names: read("given-names.txt")?,
            places,
            longest_place,
        })
    }

    /// Every class of identifier found in `text`, in a fixed order.
    pub fn identifiers(&self, text: &str) -> Vec<Identifier> {
        let text = normalise(text);
        let p = &*PATTERNS;
        let mut found = Vec::new();
        let mut add = |hit: bool, id: Identifier| {
            if hit && !found.contains(&id) {
                found.push(id);
            }
        };
        let spelled = numbers::as_digits(&text);
        for group in digit_groups(&text)
            .into_iter()
            .chain(digit_groups(&spelled))
        {
            add(group.is_national_id(), Identifier::NationalId);
            add(group.is_phone(), Identifier::PhoneNumber);
        }
        add(
            p.email.is_match(&text) || p.spelled_email.is_match(&text),
            Identifier::EmailAddress,
        );
        add(
            p.numeric_date.is_match(&text) || p.named_date.is_match(&text),
            Identifier::ExactDate,
        );
        add(p.week.is_match(&text), Identifier::WeekNumber);
        add(
            p.class_word.is_match(&text) || p.class_code.is_match(&text),
            Identifier::ClassMarker,
        );
        let words = words(&text);
        add(self.has_given_name(&words), Identifier::PersonName);
        add(self.has_place(&words), Identifier::PlaceName);
        found
    }

    /// Whether `text` names a municipality: a municipality number, or a place of the list,
    /// optionally followed by `kommune`/`kommun` (or preceded by `Kommune`).
    pub fn is_municipality(&self, text: &str) -> bool {
        let text = normalise(text);
        let text = text.trim();
        if text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) {
            return true;
        }
        let lower = text.to_lowercase();
        let name = ["kommune", "kommun", "municipality"]
            .iter()
            .find_map(|suffix| lower.strip_suffix(suffix))
            .or_else(|| lower.strip_prefix("kommune "))
            .unwrap_or(&lower)
            .trim();
        // The name as it stands ("Moss kommune"), or in the genitive ("Oslos kommune").
        let genitive = name.strip_suffix('s');
        self.places.contains(name) || genitive.is_some_and(|n| self.places.contains(n))
    }

    fn has_given_name(&self, words: &[Word<'_>]) -> bool {
        words.iter().enumerate().any(|(i, w)| {
            let lower = w.text.to_lowercase();
            w.capitalised
                && (self.given_names.contains(&lower)
                    || lower.split('-').all(|part| self.given_names.contains(part)))
                && (!w.starts_sentence
                    || !is_common_word(w.text)
                    || words.get(i + 1).is_some_and(|n| n.capitalised))
        })
    }

    /// Whether `words` hold a place name: one or more words of the list, the first
    /// capitalised (a single common word not at the start of a sentence).
    fn has_place(&self, words: &[Word<'_>]) -> bool {
        (0..words.len())
            .filter(|&start| words[start].capitalised)
            .any(|start| {
                (1..=self.longest_place.min(words.len() - start)).any(|len| {
                    let phrase = words[start..start + len]
                        .iter()
                        .map(|w| w.text.to_lowercase())
                        .collect::<Vec<_>>()
                        .join(" ");
                    let first = &words[start];
                    self.places.contains(&phrase)
                        && (len > 1 || !first.starts_sentence || !is_common_word(first.text))
                })
            })
    }
}

struct Patterns {
    email: Regex,
    spelled_email: Regex,
    numeric_date: Regex,
    named_date: Regex,
    week: Regex,
    class_word: Regex,
    class_code: Regex,
}

/// Month names and abbreviations in Norwegian (bokmål, nynorsk), Swedish, Danish, English.
const MONTHS: &str = "januar|januari|january|jan|februar|februari|february|feb|mars|marts|march|mar|april|apr|mai|maj|may|juni|june|jun|juli|july|jul|august|augusti|aug|september|sept|sep|oktober|october|okt|oct|november|nov|desember|december|des|dec";

/// Word boundaries, written out: a Unicode `\b` would keep the regex engine off its fast
/// automaton for any text with a non-ASCII letter.
const B: &str = r"(?:^|[^\w])";
const E: &str = r"(?:$|[^\w])";

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("scan patterns compile");
    // `.` as written, bracketed or spelled out.
    let dot = r"(?:\.|[(\[{<]\s*(?:dot|punkt|prikk)\s*[)\]}>]|\s(?:dot|punkt|prikk)\s)";
    Patterns {
        // name@domain.tld, with `@` as a symbol or bracketed ("(at)"), spaced or not.
        email: re(&format!(
            r"(?i)[\w.+-]+\s*(?:@|[(\[{{<]\s*(?:at|a|snabel-?a|krøllalfa)\s*[)\]}}>])\s*[\w-]+(?:\s*{dot}\s*[\w-]+)*\s*{dot}\s*[a-z]{{2,}}{E}"
        )),
        // "name at domain dot tld": the dots unspaced or spelled out, so that "looked at
        // school. It" is no address.
        spelled_email: re(&format!(
            r"(?i)[\w.+-]+\s(?:at|snabel-?a|krøllalfa)\s[\w-]+(?:{dot}[\w-]+)*{dot}[a-z]{{2,}}{E}"
        )),
        // Day, month and year (or year, month, day) with the same separator twice, so that
        // "14.30-15.30" is no date.
        numeric_date: re(&format!(
            r"{B}(?:{}){E}",
            ["-", r"\.", "/"]
                .map(|sep| format!(
                    r"\d{{4}}\s*{sep}\s*\d{{1,2}}\s*{sep}\s*\d{{1,2}}|\d{{1,2}}\s*{sep}\s*\d{{1,2}}\s*{sep}\s*\d{{2,4}}"
                ))
                .join("|")
        )),
        named_date: re(&format!(
            r"(?i){B}(?:\d{{1,2}}\s*\.?\s*(?:of\s+|de\s+)?(?:{MONTHS}){E}|(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th|\.)?(?:\s|$|[.,;:!?]))"
        )),
        week: re(&format!(
            r"(?i){B}(?:(?:uke|veke|vecka|veckan|uge|ugen|week|wk)\s*\.?\s*(?:nr\.?\s*)?|v\.?\s?)\d{{1,2}}{E}"
        )),
        class_word: re(&format!(
            r"(?i){B}(?:(?:klasse|klassen|klass|årskurs|åk|årstrinn|klassetrinn|grade|class)\s*\d{{1,2}}\s*[a-f]?{E}|\d{{1,2}}\s*\.?\s*(?:klasse{E}|klass{E}|kl\.))"
        )),
        // Case-sensitive: "9B", "10A".
        class_code: re(&format!(r"{B}(?:[1-9]|1[0-3])[A-F]{E}")),
    }
});

/// The text as the scan reads it (see the module's documentation).
fn normalise(text: &str) -> String {
    text.nfkc()
        .filter(|c| !is_invisible(*c))
        .map(|c| match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => '-',
            c if c.is_whitespace() => ' ',
            c => other_digit(c).unwrap_or(c),
        })
        .collect()
}

/// Characters that print as nothing: format, joiners, variation selectors, bidi controls.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}')
        || (c.is_control() && !c.is_whitespace())
}

/// A decimal digit of another script, as an ASCII digit.
fn other_digit(c: char) -> Option<char> {
    const ZEROS: [u32; 20] = [
        0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6,
        0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810,
    ];
    let code = u32::from(c);
    ZEROS
        .iter()
        .find(|z| (**z..**z + 10).contains(&code))
        .and_then(|z| char::from_digit(code - z, 10))
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '.' | '-' | '_' | '/' | '(' | ')' | '+')
}

/// Digits joined by separators: what could be one number written with spaces or dashes.
struct DigitGroup {
    /// The digit runs, in order.
    parts: Vec<String>,
    /// The separator runs between them.
    separators: Vec<String>,
}

fn digit_groups(text: &str) -> Vec<DigitGroup> {
    let chars: Vec<char> = text.chars().collect();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut group = DigitGroup {
            parts: Vec::new(),
            separators: Vec::new(),
        };
        loop {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            group.parts.push(chars[start..i].iter().collect());
            let gap = i;
            while i < chars.len() && is_separator(chars[i]) {
                i += 1;
            }
            if i > gap && i < chars.len() && chars[i].is_ascii_digit() {
                group.separators.push(chars[gap..i].iter().collect());
            } else {
                i = gap;
                break;
            }
        }
        groups.push(group);
    }
    groups
}

impl DigitGroup {
    fn digits(&self) -> String {
        self.parts.concat()
    }

    /// An 11-digit fødselsnummer, a 10- or 12-digit personnummer, a 10-digit CPR number:
    /// digits that begin with a date.
    fn is_national_id(&self) -> bool {
        let d = self.digits();
        let n = |r: std::ops::Range<usize>| d[r].parse::<u32>().unwrap_or(0);
        let date = |day: u32, month: u32| (1..=31).contains(&day) && (1..=12).contains(&month);
        // Norway: D-numbers add 40 to the day, H-numbers 40 and test numbers 80 to the
        // month; Sweden: samordningsnummer add 60 to the day.
        let less = |v: u32, by: &[u32]| by.iter().find(|b| v > **b).map_or(v, |b| v - b);
        let norwegian = |day, month| date(less(day, &[40]), less(month, &[80, 40]));
        let swedish = |day, month| date(less(day, &[60]), month);
        match d.len() {
            11 => norwegian(n(0..2), n(2..4)),
            // Danish CPR (DDMMYY) or Swedish personnummer (YYMMDD).
            10 => date(n(0..2), n(2..4)) || swedish(n(4..6), n(2..4)),
            12 => matches!(n(0..2), 19 | 20) && swedish(n(6..8), n(4..6)),
            _ => false,
        }
    }

    /// Eight or more digits that are no national ID, no date ("2026-03-01", found as a
    /// date), no span of years ("2024-2025"), no span of clock times ("14.30-15.30") and
    /// no counting ("1, 2, 3, … 8").
    fn is_phone(&self) -> bool {
        let lengths: Vec<usize> = self.parts.iter().map(String::len).collect();
        let date = matches!(
            lengths.as_slice(),
            [4, 1..=2, 1..=2] | [1..=2, 1..=2, 2..=4]
        );
        let years = self.parts.len() == 2
            && self
                .parts
                .iter()
                .all(|p| p.len() == 4 && p.parse::<u32>().is_ok_and(|y| (1900..2100).contains(&y)));
        let times = self.parts.len() == 4
            && self.parts.iter().all(|p| p.len() <= 2)
            && self.separators.iter().map(|s| s.trim()).eq([".", "-", "."]);
        let digits = self.digits();
        let counting = digits
            .as_bytes()
            .windows(2)
            .all(|pair| pair[1] == pair[0] + 1);
        digits.len() >= 8 && !self.is_national_id() && !date && !years && !times && !counting
    }
}

/// One word of a text, and where it stands.
struct Word<'a> {
    text: &'a str,
    /// Begins with an upper-case letter, the rest lower-case (`Anne-Lise` too).
    capitalised: bool,
    /// First of its sentence (or of the text, a line, a quote).
    starts_sentence: bool,
}

fn words(text: &str) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut sentence_start = true;
    let mut start = None;
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in bytes.iter().enumerate() {
        let part_of_word = c.is_alphabetic() || (c == '-' && start.is_some());
        if part_of_word {
            start.get_or_insert(i);
        }
        let end_here = !part_of_word || k + 1 == bytes.len();
        if let (true, Some(s)) = (end_here, start) {
            let end = if part_of_word { i + c.len_utf8() } else { i };
            let word = text[s..end].trim_end_matches('-');
            let capitalised = word.chars().count() > 1
                && word.split('-').all(|part| {
                    let mut letters = part.chars();
                    letters.next().is_some_and(char::is_uppercase)
                        && letters.all(char::is_lowercase)
                });
            words.push(Word {
                text: word,
                capitalised,
                starts_sentence: sentence_start,
            });
            sentence_start = false;
            start = None;
        }
        if matches!(
            c,
            '.' | '!' | '?' | ':' | '"' | '«' | '“' | '\n' | '(' | '-' | '–'
        ) && start.is_none()
        {
            sentence_start = true;
        } else if !part_of_word && !c.is_whitespace() && c != ',' {
            sentence_start = sentence_start && c.is_ascii_digit();
        }
    }
    words
}

/// Names and places that are also ordinary words of Norwegian, Swedish, Danish or English:
/// at the start of a sentence, where every word is capitalised, they are not flagged alone.
fn is_common_word(word: &str) -> bool {
    const COMMON: &[&str] = &[
        "ale", "alf", "and", "april", "are", "ask", "august", "ben", "berg", "bjørn", "björn",
        "björk", "bo", "bror", "bø", "dag", "ek", "else", "even", "finn", "fjord", "folke", "frid",
        "gran", "grue", "hå", "heim", "hole", "hope", "iris", "juli", "juni", "kaj", "kil", "kinn",
        "klara", "klepp", "lind", "liv", "love", "lund", "lykke", "mai", "maj", "mark", "may",
        "mo", "moss", "nes", "odd", "os", "per", "rana", "ro", "roar", "rose", "rune", "saga",
        "sande", "sel", "signe", "siv", "ski", "sol", "stad", "stein", "sten", "stig", "storm",
        "strand", "sunne", "tage", "tilde", "time", "tom", "tor", "ulv", "vang", "vara", "vega",
        "vik", "viking", "vilde", "vilje", "vår", "will", "ørn",
    ];
    COMMON.contains(&word.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::{Identifier::*, *};

    fn lexicon() -> Lexicon {
        Lexicon::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/names")).unwrap()
    }

    fn scan(text: &str) -> Vec<Identifier> {
        static LEXICON: LazyLock<Lexicon> = LazyLock::new(lexicon);
        LEXICON.identifiers(text)
    }

    #[test]
    fn finds_each_class_of_identifier() {
        assert_eq!(scan("fnr 09031450000 i teksten"), [NationalId]);
        assert_eq!(scan("fnr 090314 50000"), [NationalId]);
        assert_eq!(scan("pnr 20120301-1234."), [NationalId]);
        assert_eq!(scan("pnr 120301-1234"), [NationalId]);
        assert_eq!(scan("pnr 120301+1234"), [NationalId]);
        assert_eq!(scan("CPR 010312-1234"), [NationalId]);
        assert_eq!(scan("ring 22 33 44 55"), [PhoneNumber]);
        assert_eq!(scan("ring +47 912 34 567"), [PhoneNumber]);
        assert_eq!(scan("mail ola@example.invalid"), [EmailAddress]);
        assert_eq!(scan("skjedde 2026-03-01"), [ExactDate]);
        assert_eq!(scan("skjedde 1.3.2026"), [ExactDate]);
    }

    #[test]
    fn obfuscation_does_not_hide_an_identifier() {
        for text in [
            "fnr ０９０３１４５００００",
            "fnr 0\u{200B}9\u{200B}0314\u{2060}50000",
            "fnr 09.03.14.500.00",
            "fnr 09 03 14 - 500 00",
            "fnr 09_03_14_50000",
            "fnr (090314) 50000",
            "fnr 090314\u{2013}50000",
            "fnr ٠٩٠٣١٤٥٠٠٠٠",
            "fnr 𝟎𝟗𝟎𝟑𝟏𝟒𝟓𝟎𝟎𝟎𝟎",
        ] {
            assert!(scan(text).contains(&NationalId), "{text}");
        }
        for text in [
            "ring 9 1 2 3 4 5 6 7",
            "ring 912.34.567",
            "ring 912-34-567",
            "ring (+47) 912 34 567",
        ] {
            assert!(scan(text).contains(&PhoneNumber), "{text}");
        }
        for text in [
            "skriv til ola＠example.no",
            "skriv til ola﹫example.no",
            "skriv til ola (at) example.no",
            "skriv til ola[at]example.no",
            "skriv til ola [at] example [dot] no",
            "skriv til ola at example dot no",
            "skriv til ola @ example . no",
            "skriv til o\u{200B}la@exa\u{00AD}mple.no",
            "skriv till ola snabel-a example punkt se",
        ] {
            assert_eq!(scan(text), [EmailAddress], "{text}");
        }
    }

    #[test]
    fn dates_in_words_week_numbers_and_class_markers_are_found() {
        for text in [
            "Det skjedde 1. mars 2026.",
            "Det skjedde 3. mars.",
            "Det hände den 3 mars.",
            "Det skete den 3. marts.",
            "It happened on March 3rd.",
            "It happened on 3 March.",
            "Det skjedde 14 des i fjor.",
            "Skjedde 1 . 3 . 2026",
        ] {
            assert_eq!(scan(text), [ExactDate], "{text}");
        }
        for text in [
            "Det skjedde i uke 12.",
            "Det hände vecka 12.",
            "Det skete i uge 12.",
            "v.12",
            "week 12",
        ] {
            assert_eq!(scan(text), [WeekNumber], "{text}");
        }
        for text in [
            "Eleven går i 9B.",
            "Eleven går i klasse 7.",
            "Eleven går i årskurs 8.",
            "Eleven i 7. klasse.",
            "åk 8",
        ] {
            assert_eq!(scan(text), [ClassMarker], "{text}");
        }
    }

    #[test]
    fn names_and_places_are_found_where_they_stand_as_names() {
        for text in [
            "Vi har snakket med Kari om saken.",
            "Kari har vært borte fra skolen.",
            "Per Hansen kom ikke.",
            "Eleven bor på Tøyen og går på skolen der.",
            "Familien flyttet fra Nordre Follo i fjor.",
            "Eleven bor i Rosengård.",
            "Ingrid og Sara kom sammen.",
        ] {
            let found = scan(text);
            assert!(
                found.contains(&PersonName) || found.contains(&PlaceName),
                "{text}: {found:?}"
            );
        }
    }

    #[test]
    fn ordinary_text_passes() {
        for text in [
            "Flere elever på 9. trinn, 3 ganger i 2025, klokken 14.30.",
            "Per i dag vet vi lite, men liv og helse er ikke i fare.",
            "Time etter time satt eleven alene. Moss på steinene.",
            "Mai og juni var rolige måneder; i mars ble det verre.",
            "Skoleåret 2024-2025 og 2024/2025 var urolig mellom 14.30-15.30.",
            "Eleven har vært borte i tre uker og virker sliten.",
            "Vi ønsker råd om forebyggende tiltak i friminuttene.",
            "Dag etter dag kom det nye meldinger.",
            "Strand og sol er ikke tema her.",
            "Det gäller en elev i årskurs på högstadiet, se bilaga.",
            "Eleven er 14 år og har søsken på 3 og 7 år.",
            "Vi tar kontakt om 2 uker, ca. 10 elever er berørt.",
        ] {
            assert_eq!(scan(text), [], "{text}");
        }
    }

    #[test]
    fn a_referring_unit_is_a_municipality() {
        let lexicon = lexicon();
        for unit in [
            "Oslo kommune",
            "Oslo",
            "0301",
            "Malmö kommun",
            "Kommune Bergen",
            "Nordre Follo kommune",
            "Moss kommune",
            "Åsnes kommune",
            "Oslos kommune",
        ] {
            assert!(lexicon.is_municipality(unit), "{unit}");
        }
        for unit in [
            "Hasle skole",
            "Rosengårdsskolan",
            "Helsestasjon for ungdom",
            "Kari Nordmann",
        ] {
            assert!(!lexicon.is_municipality(unit), "{unit}");
        }
    }
}
