//! Numbers written so that they do not look like numbers, read back as digits for the scan
//! of ID and phone numbers: digits spelled out in words (Norwegian bokmål and nynorsk,
//! Swedish, Danish, English: "ni-en-to-tre", "nittito", "toogtyve", "ninety-two", "dobbel
//! fem"), and digit groups joined by filler words ("912 og så 34") or by symbols
//! ("912 * 34 | 567"). Fillers and symbols between two numbers are read as a space, which
//! the scan's digit groups read as a separator, unless one of the two is part of a number
//! written with separators ("14.30 og 15.30", "2024-2025 og 2026": times, dates and years
//! stay apart); the rest of the text is kept as it stands.

/// A number word's value, or `None`: digits 0-9, 10-19, the tens, a tens word with a
/// digit after it (nb, nn, sv: "nittito") or a digit, `og` and a tens word before it (da:
/// "toogtyve").
fn number(word: &str) -> Option<u32> {
    lookup(word)
        // "nittito", "tjugotvå"
        .or_else(|| {
            TENS.iter().find_map(|(tens, value)| {
                let unit = lookup(word.strip_prefix(tens)?).filter(|u| (1..=9).contains(u))?;
                Some(value + unit)
            })
        })
        // "toogtyve", "femoghalvfems"
        .or_else(|| {
            let (unit, tens) = word.split_once("og")?;
            let unit = lookup(unit).filter(|u| (1..=9).contains(u))?;
            let tens = TENS.iter().find(|(t, _)| *t == tens)?.1;
            Some(tens + unit)
        })
}

const UNITS: &[(&str, u32)] = &[
    ("null", 0),
    ("noll", 0),
    ("nul", 0),
    ("zero", 0),
    ("en", 1),
    ("ein", 1),
    ("eitt", 1),
    ("eit", 1),
    ("ett", 1),
    ("én", 1),
    ("one", 1),
    ("to", 2),
    ("två", 2),
    ("tva", 2),
    ("two", 2),
    ("tre", 3),
    ("three", 3),
    ("fire", 4),
    ("fyra", 4),
    ("four", 4),
    ("fem", 5),
    ("five", 5),
    ("seks", 6),
    ("sex", 6),
    ("six", 6),
    ("sju", 7),
    ("syv", 7),
    ("seven", 7),
    ("åtte", 8),
    ("atte", 8),
    ("åtta", 8),
    ("otte", 8),
    ("eight", 8),
    ("ni", 9),
    ("nio", 9),
    ("nine", 9),
    ("ti", 10),
    ("tio", 10),
    ("ten", 10),
    ("elleve", 11),
    ("elva", 11),
    ("eleven", 11),
    ("tolv", 12),
    ("twelve", 12),
    ("tretten", 13),
    ("tretton", 13),
    ("thirteen", 13),
    ("fjorten", 14),
    ("fjorton", 14),
    ("fourteen", 14),
    ("femten", 15),
    ("femton", 15),
    ("fifteen", 15),
    ("seksten", 16),
    ("sexton", 16),
    ("sixteen", 16),
    ("sytten", 17),
    ("sjutton", 17),
    ("seventeen", 17),
    ("atten", 18),
    ("arton", 18),
    ("eighteen", 18),
    ("nitten", 19),
    ("nitton", 19),
    ("nineteen", 19),
];

const TENS: &[(&str, u32)] = &[
    ("tjue", 20),
    ("tjuge", 20),
    ("tjugo", 20),
    ("tyve", 20),
    ("twenty", 20),
    ("tretti", 30),
    ("trettio", 30),
    ("tredive", 30),
    ("thirty", 30),
    ("førti", 40),
    ("fyrti", 40),
    ("fyrtio", 40),
    ("fyrre", 40),
    ("forty", 40),
    ("femti", 50),
    ("femtio", 50),
    ("halvtreds", 50),
    ("fifty", 50),
    ("seksti", 60),
    ("sextio", 60),
    ("tres", 60),
    ("sixty", 60),
    ("sytti", 70),
    ("sjuttio", 70),
    ("halvfjerds", 70),
    ("seventy", 70),
    ("åtti", 80),
    ("åttio", 80),
    ("firs", 80),
    ("eighty", 80),
    ("nitti", 90),
    ("nittio", 90),
    ("halvfems", 90),
    ("ninety", 90),
];

fn lookup(word: &str) -> Option<u32> {
    UNITS
        .iter()
        .chain(TENS)
        .find(|(w, _)| *w == word)
        .map(|(_, v)| *v)
}

/// Words that join two numbers without being part of either ("og så", "minus", "strek").
const FILLERS: &[&str] = &[
    "og",
    "och",
    "and",
    "så",
    "then",
    "deretter",
    "sedan",
    "derefter",
    "minus",
    "strek",
    "streck",
    "streg",
    "bindestrek",
    "bindestreck",
    "bindestreg",
    "dash",
    "hyphen",
    "punkt",
    "prikk",
    "komma",
    "comma",
    "dot",
    "slash",
    "skråstrek",
    "snedstreck",
    "skråstreg",
    "mellomrom",
    "mellanslag",
    "mellemrum",
    "space",
];

/// Words that repeat the digit after them ("dobbel fem": 55).
const REPEATS: &[(&str, usize)] = &[
    ("dobbel", 2),
    ("dobbelt", 2),
    ("dubbel", 2),
    ("dubbla", 2),
    ("double", 2),
    ("trippel", 3),
    ("trippelt", 3),
    ("tredubbel", 3),
    ("triple", 3),
];

/// One piece of the text.
#[derive(Debug)]
enum Piece<'a> {
    /// Digits, as written or read from a word; whether they were written as digits, and
    /// whether the word was a tens word, or a digit word of 1-9 (which a tens word before
    /// it takes as its second digit).
    Number {
        digits: String,
        written: bool,
        tens: bool,
        unit: bool,
    },
    /// A word that repeats the next number.
    Repeat(usize, &'a str),
    /// Fillers and symbols: a separator between two numbers.
    Join(&'a str),
    /// Anything else: kept as written.
    Text(&'a str),
}

/// `text` (normalised) with the numbers in it as digits, and whatever joins two numbers as a
/// space.
pub fn as_digits(text: &str) -> String {
    let mut pieces = pieces(text);
    merge_tens(&mut pieces);
    let mut out = String::with_capacity(text.len());
    let mut repeat = 1;
    for (i, piece) in pieces.iter().enumerate() {
        let before = (0..i).rev().find(|&j| !matches!(pieces[j], Piece::Join(_)));
        let after = (i + 1..pieces.len()).find(|&j| !matches!(pieces[j], Piece::Join(_)));
        let number =
            |j: Option<usize>| j.is_some_and(|j| matches!(pieces[j], Piece::Number { .. }));
        // A repeat word stands for the number after it.
        let loose = |j: Option<usize>| {
            j.is_some_and(|j| match pieces[j] {
                Piece::Number { .. } => !structured(&pieces, j),
                Piece::Repeat(..) => true,
                _ => false,
            })
        };
        match piece {
            Piece::Number { digits, .. } => {
                out.push_str(&digits.repeat(repeat));
                repeat = 1;
            }
            Piece::Repeat(times, _) if number(after) => repeat = *times,
            Piece::Join(_) if repeat > 1 => {}
            Piece::Join(written) if !is_separators(written) && loose(before) && loose(after) => {
                out.push(' ');
            }
            Piece::Repeat(_, written) | Piece::Join(written) | Piece::Text(written) => {
                out.push_str(written);
            }
        }
    }
    out
}

/// Whether `text` is only what the scan's digit groups read as a separator.
fn is_separators(text: &str) -> bool {
    text.chars().all(super::is_separator)
}

/// Whether the number at `i` was written as digits and joined by separators to other
/// digits ("14.30", "2024-2025"): part of a number of its own.
fn structured(pieces: &[Piece<'_>], i: usize) -> bool {
    let written = |j: usize| matches!(pieces.get(j), Some(Piece::Number { written: true, .. }));
    let joined = |gap: usize, other: usize| {
        matches!(pieces.get(gap), Some(Piece::Join(text)) if is_separators(text)) && written(other)
    };
    written(i) && ((i >= 2 && joined(i - 1, i - 2)) || joined(i + 1, i + 2))
}

/// The text cut into words, digit runs and the runs between them.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        let class = |c: char| {
            if c.is_alphabetic() {
                0
            } else if c.is_ascii_digit() {
                1
            } else {
                2
            }
        };
        let end = rest
            .char_indices()
            .find(|(_, c)| class(*c) != class(first))
            .map_or(rest.len(), |(i, _)| i);
        let (run, after) = rest.split_at(end);
        rest = after;
        pieces.push(match class(first) {
            1 => Piece::Number {
                digits: run.to_owned(),
                written: true,
                tens: false,
                unit: false,
            },
            0 => word(run),
            // A sentence's or a line's end is no separator, nor a clock's colon.
            _ if run.contains(['\n', '!', '?', ':']) || run.contains(". ") => Piece::Text(run),
            _ => Piece::Join(run),
        });
    }
    pieces
}

fn word(written: &str) -> Piece<'_> {
    let lower = written.to_lowercase();
    if let Some(value) = number(&lower) {
        // A round value of 20 or more is a tens word alone; a compound never is, nor 1-9.
        return Piece::Number {
            digits: value.to_string(),
            written: false,
            tens: value >= 20 && value % 10 == 0,
            unit: (1..=9).contains(&value),
        };
    }
    if FILLERS.contains(&lower.as_str()) {
        return Piece::Join(written);
    }
    match REPEATS.iter().find(|(w, _)| *w == lower) {
        Some((_, times)) => Piece::Repeat(*times, written),
        None => Piece::Text(written),
    }
}

/// A tens word and a digit word after it, joined by spaces or a hyphen only ("ninety-two"),
/// are one number.
fn merge_tens(pieces: &mut Vec<Piece<'_>>) {
    let mut i = 0;
    while i + 2 < pieces.len() {
        let joined = matches!(
            (&pieces[i], &pieces[i + 1], &pieces[i + 2]),
            (
                Piece::Number { tens: true, .. },
                Piece::Join(between),
                Piece::Number { unit: true, .. },
            ) if between.chars().all(|c| c == ' ' || c == '-')
        );
        if joined {
            let unit = match pieces.remove(i + 2) {
                Piece::Number { digits, .. } => digits,
                _ => String::new(),
            };
            pieces.remove(i + 1);
            if let Piece::Number { digits, tens, .. } = &mut pieces[i] {
                digits.pop();
                digits.push_str(&unit);
                *tens = false;
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    /// The reading, each run of spaces as one.
    fn read(text: &str) -> String {
        super::as_digits(text)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn digits_in_words_are_read_as_digits() {
        assert_eq!(read("ring ni-en-to-tre"), "ring 9-1-2-3");
        assert_eq!(read("nittito trettifire"), "92 34");
        assert_eq!(read("ninety-two, thirty four"), "92 34");
        assert_eq!(read("toogtyve femoghalvfems"), "22 95");
        assert_eq!(read("dobbel fem, tre"), "55 3");
        assert_eq!(read("912 og så 34 * 567"), "912 34 567");
    }

    #[test]
    fn what_is_not_between_loose_numbers_stays_as_written() {
        assert_eq!(read("to og to er fire."), "2 2 er 4.");
        assert_eq!(read("14.30 og 15.30"), "14.30 og 15.30");
        assert_eq!(read("2024-2025 og 2026"), "2024-2025 og 2026");
        assert_eq!(read("vi dro. Og så"), "vi dro. Og så");
        assert_eq!(read("12 år. 3 søsken"), "12 år. 3 søsken");
        assert_eq!(read("en dobbel seng"), "1 dobbel seng");
    }
}
