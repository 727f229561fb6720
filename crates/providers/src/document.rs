//! Brazilian taxpayer documents: CPF (people) and CNPJ (companies, including the alphanumeric
//! CNPJ introduced in 2026), validated on parse and masked in `Debug`/`Display`.
//!
//! A [`Document`] is PII. The full value leaves the type only through [`Document::expose`],
//! [`Document::expose_formatted`] and `Serialize`: each call site is a deliberate wire or storage
//! boundary.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which kind of document a [`Document`] is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[schema(description = "Which kind of document: `cpf` or `cnpj`.")]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    /// Cadastro de Pessoas Físicas: 11 digits, the last two check digits.
    Cpf,
    /// Cadastro Nacional da Pessoa Jurídica: 12 characters `[0-9A-Z]` then two check digits.
    Cnpj,
}

impl DocumentKind {
    /// `"cpf"` or `"cnpj"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DocumentKind::Cpf => "cpf",
            DocumentKind::Cnpj => "cnpj",
        }
    }

    /// How many characters the bare value has.
    fn length(self) -> usize {
        match self {
            DocumentKind::Cpf => CPF_LENGTH,
            DocumentKind::Cnpj => CNPJ_LENGTH,
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a document was refused. Messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// Without separators the input is neither 11 (CPF) nor 14 (CNPJ) characters long.
    #[error("document must have 11 digits (cpf) or 14 characters (cnpj)")]
    InvalidLength,
    /// A character other than a digit, an allowed letter or a separator (`.`, `-`, `/`, space).
    #[error("document contains an invalid character")]
    InvalidCharacter,
    /// The check digits do not match the rest of the document.
    #[error("{kind} check digits are invalid")]
    InvalidCheckDigits {
        /// The kind the input was read as.
        kind: DocumentKind,
    },
    /// Every character is the same (`111.111.111-11`): such documents pass the check digits but
    /// are never issued.
    #[error("document must not repeat a single digit")]
    RepeatedDigits,
}

impl DocumentError {
    /// A stable `snake_case` code for this error, unique per variant.
    pub fn code(&self) -> &'static str {
        match self {
            DocumentError::InvalidLength => "document_invalid_length",
            DocumentError::InvalidCharacter => "document_invalid_character",
            DocumentError::InvalidCheckDigits { .. } => "document_invalid_check_digits",
            DocumentError::RepeatedDigits => "document_repeated_digits",
        }
    }
}

/// A validated CPF or CNPJ, stored bare: 11 digits, or 14 uppercase alphanumerics.
///
/// `Debug` and `Display` are masked (`***.456.789-**`, `**.345.678/0001-**`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Document {
    kind: DocumentKind,
    value: String,
}

const CPF_LENGTH: usize = 11;
const CNPJ_LENGTH: usize = 14;
const CNPJ_FIRST_WEIGHTS: [u32; 12] = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const CNPJ_SECOND_WEIGHTS: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const CPF_FIRST_WEIGHTS: [u32; 9] = [10, 9, 8, 7, 6, 5, 4, 3, 2];
const CPF_SECOND_WEIGHTS: [u32; 10] = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2];

impl Document {
    /// Parses a CPF or a CNPJ, formatted (`123.456.789-09`, `12.345.678/0001-95`,
    /// `12.ABC.345/01DE-35`) or bare; letters may be lowercase. The kind follows from the length
    /// once `.`, `-`, `/` and spaces are removed.
    pub fn parse(input: &str) -> Result<Document, DocumentError> {
        let bare = strip_separators(input)?;
        let kind = match bare.len() {
            CPF_LENGTH => DocumentKind::Cpf,
            CNPJ_LENGTH => DocumentKind::Cnpj,
            _ => return Err(DocumentError::InvalidLength),
        };
        Document::validate(kind, bare)
    }

    /// Parses a CPF only; a valid CNPJ is an [`DocumentError::InvalidLength`].
    pub fn parse_cpf(input: &str) -> Result<Document, DocumentError> {
        Document::parse_kind(input, DocumentKind::Cpf)
    }

    /// Parses a CNPJ only; a valid CPF is an [`DocumentError::InvalidLength`].
    pub fn parse_cnpj(input: &str) -> Result<Document, DocumentError> {
        Document::parse_kind(input, DocumentKind::Cnpj)
    }

    /// Whether this is a CPF or a CNPJ.
    pub fn kind(&self) -> DocumentKind {
        self.kind
    }

    /// The full bare value (`12345678909`, `12ABC34501DE35`). PII: call it only to build a wire or
    /// storage representation.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The full value with the usual punctuation (`123.456.789-09`, `12.345.678/0001-95`). PII,
    /// like [`Document::expose`].
    pub fn expose_formatted(&self) -> String {
        self.format_groups(|group| group.to_owned(), |group| group.to_owned())
    }

    /// The masked text also printed by `Display`: `***.456.789-**` or `**.345.678/0001-**`.
    pub fn masked(&self) -> String {
        self.format_groups(|group| group.to_owned(), |group| "*".repeat(group.len()))
    }

    fn parse_kind(input: &str, kind: DocumentKind) -> Result<Document, DocumentError> {
        let bare = strip_separators(input)?;
        if bare.len() != kind.length() {
            return Err(DocumentError::InvalidLength);
        }
        Document::validate(kind, bare)
    }

    /// Validates a separator-free, uppercased value of the right length for `kind`.
    fn validate(kind: DocumentKind, bare: String) -> Result<Document, DocumentError> {
        let bytes = bare.as_bytes();
        let shape_ok = match kind {
            DocumentKind::Cpf => bytes.iter().all(u8::is_ascii_digit),
            DocumentKind::Cnpj => {
                bytes
                    .iter()
                    .enumerate()
                    .all(|(index, byte)| match index < CNPJ_LENGTH - 2 {
                        true => byte.is_ascii_digit() || byte.is_ascii_uppercase(),
                        false => byte.is_ascii_digit(),
                    })
            }
        };
        if !shape_ok {
            return Err(DocumentError::InvalidCharacter);
        }
        if bytes.iter().all(|byte| Some(byte) == bytes.first()) {
            return Err(DocumentError::RepeatedDigits);
        }
        let expected = match kind {
            DocumentKind::Cpf => cpf_check_digits(bytes),
            DocumentKind::Cnpj => cnpj_check_digits(bytes),
        };
        if bytes.get(bytes.len() - 2..) != Some(&expected[..]) {
            return Err(DocumentError::InvalidCheckDigits { kind });
        }
        Ok(Document { kind, value: bare })
    }

    /// Rebuilds the punctuated form, passing shown groups through `shown` and the first group and
    /// the check digits through `hidden`.
    fn format_groups(
        &self,
        shown: impl Fn(&str) -> String,
        hidden: impl Fn(&str) -> String,
    ) -> String {
        let value = self.value.as_str();
        let group = |range: std::ops::Range<usize>| value.get(range).unwrap_or_default();
        match self.kind {
            DocumentKind::Cpf => format!(
                "{}.{}.{}-{}",
                hidden(group(0..3)),
                shown(group(3..6)),
                shown(group(6..9)),
                hidden(group(9..11)),
            ),
            DocumentKind::Cnpj => format!(
                "{}.{}.{}/{}-{}",
                hidden(group(0..2)),
                shown(group(2..5)),
                shown(group(5..8)),
                shown(group(8..12)),
                hidden(group(12..14)),
            ),
        }
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Document({} {})", self.kind, self.masked())
    }
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Serializes as the bare, unmasked value: serialization is a wire or storage boundary, so anything
/// serializing a `Document` handles PII (logs must use `Display`, never JSON of domain types).
impl Serialize for Document {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.value)
    }
}

impl Document {
    /// The values `Serialize` writes, as a regular expression (for the JSON Schema): a bare CPF
    /// (11 digits) or CNPJ (12 digits or uppercase letters, then two check digits).
    pub const PATTERN: &str = "^([0-9]{11}|[0-9A-Z]{12}[0-9]{2})$";
}

/// The schema of what `Serialize` writes: the bare value as a string.
impl utoipa::PartialSchema for Document {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Document::PATTERN))
            .description(Some(
                "A valid CPF (11 digits) or CNPJ (14 characters, alphanumeric CNPJs included), \
                 bare: no punctuation.",
            ))
            .examples(["52998224725"])
            .into()
    }
}

impl utoipa::ToSchema for Document {}

/// Deserializes with [`Document::parse`], formatted or bare. Errors never echo the input, even
/// when it was sent as a JSON number.
impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Document, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

/// Masks everything in free-form text that looks like a CPF or a CNPJ, for log scrubbing.
///
/// A candidate is a run of letters, digits, `.`, `-` and `/` that, without separators, is 11 or 14
/// digits, or is a valid alphanumeric CNPJ. Valid documents are replaced by their masked form,
/// other candidates by `*` for each letter or digit (separators kept). Over-masking (an 11-digit
/// phone number) is preferred to leaking.
pub fn mask_document_like(input: &str) -> String {
    let mut output = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find(is_candidate_char) {
        let (before, from_start) = rest.split_at(start);
        output.push_str(before);
        let length = from_start
            .find(|character: char| !is_candidate_char(character))
            .unwrap_or(from_start.len());
        let (run, after) = from_start.split_at(length);
        output.push_str(&mask_run(run));
        rest = after;
    }
    output.push_str(rest);
    output
}

fn is_candidate_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '.' | '-' | '/')
}

/// Masks one run of candidate characters if it looks like a document.
fn mask_run(run: &str) -> String {
    let is_separator = |character: char| matches!(character, '.' | '-' | '/');
    let core = run.trim_matches(is_separator);
    let Some(core_start) = run.find(core) else {
        return run.to_owned();
    };
    let (leading, from_core) = run.split_at(core_start);
    let trailing = from_core.get(core.len()..).unwrap_or_default();
    let bare: String = core
        .chars()
        .filter(|character| !is_separator(*character))
        .collect();
    let all_digits = bare.bytes().all(|byte| byte.is_ascii_digit());
    let masked_core = match Document::parse(core) {
        Ok(document) => document.masked(),
        Err(_) if all_digits && (bare.len() == CPF_LENGTH || bare.len() == CNPJ_LENGTH) => core
            .chars()
            .map(|character| match is_separator(character) {
                true => character,
                false => '*',
            })
            .collect(),
        Err(_) => return run.to_owned(),
    };
    format!("{leading}{masked_core}{trailing}")
}

/// Removes `.`, `-`, `/` and spaces and uppercases letters; any other non-alphanumeric character
/// is an [`DocumentError::InvalidCharacter`].
fn strip_separators(input: &str) -> Result<String, DocumentError> {
    let mut bare = String::with_capacity(CNPJ_LENGTH);
    for character in input.chars() {
        match character {
            '.' | '-' | '/' | ' ' => {}
            _ if character.is_ascii_alphanumeric() => bare.push(character.to_ascii_uppercase()),
            _ => return Err(DocumentError::InvalidCharacter),
        }
        if bare.len() > CNPJ_LENGTH {
            return Err(DocumentError::InvalidLength);
        }
    }
    Ok(bare)
}

/// The two check digits of a CPF whose first nine bytes are digits.
fn cpf_check_digits(bytes: &[u8]) -> [u8; 2] {
    let first = check_digit(bytes, &CPF_FIRST_WEIGHTS);
    let mut with_first = [0u8; 10];
    for (slot, byte) in with_first.iter_mut().zip(bytes.iter().take(9)) {
        *slot = *byte;
    }
    with_first[9] = first;
    [first, check_digit(&with_first, &CPF_SECOND_WEIGHTS)]
}

/// The two check digits of a CNPJ whose first twelve bytes are `[0-9A-Z]`.
fn cnpj_check_digits(bytes: &[u8]) -> [u8; 2] {
    let first = check_digit(bytes, &CNPJ_FIRST_WEIGHTS);
    let mut with_first = [0u8; 13];
    for (slot, byte) in with_first.iter_mut().zip(bytes.iter().take(12)) {
        *slot = *byte;
    }
    with_first[12] = first;
    [first, check_digit(&with_first, &CNPJ_SECOND_WEIGHTS)]
}

/// Modulo-11 check digit (as an ASCII digit) over `bytes` paired with `weights`. Each character
/// is worth its ASCII code minus 48, so digits are their value and `A` is 17.
fn check_digit(bytes: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = bytes
        .iter()
        .zip(weights)
        .map(|(byte, weight)| u32::from(byte.saturating_sub(b'0')) * weight)
        .sum();
    let remainder = sum % 11;
    let digit = match remainder {
        0 | 1 => 0,
        _ => 11 - remainder,
    };
    // `digit` is at most 9.
    b'0' + u8::try_from(digit).unwrap_or(0)
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cpf or cnpj string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Document, E> {
        Document::parse(value).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, _value: i64) -> Result<Document, E> {
        Err(not_a_string())
    }

    fn visit_u64<E: de::Error>(self, _value: u64) -> Result<Document, E> {
        Err(not_a_string())
    }

    fn visit_i128<E: de::Error>(self, _value: i128) -> Result<Document, E> {
        Err(not_a_string())
    }

    fn visit_u128<E: de::Error>(self, _value: u128) -> Result<Document, E> {
        Err(not_a_string())
    }

    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Document, E> {
        Err(not_a_string())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _map: A) -> Result<Document, A::Error> {
        // serde_json's arbitrary-precision numbers arrive as a map holding the number's text.
        Err(not_a_string())
    }
}

fn not_a_string<E: de::Error>() -> E {
    E::custom("document must be a string")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::document::{
        Document, DocumentError, DocumentKind, cnpj_check_digits, cpf_check_digits,
        mask_document_like,
    };

    fn check_valid(input: &str, kind: DocumentKind, bare: &str) {
        let document = Document::parse(input).unwrap();
        assert_eq!(document.kind(), kind, "{input}");
        assert_eq!(document.expose(), bare, "{input}");
    }

    fn check_invalid(input: &str, expected: DocumentError) {
        assert_eq!(Document::parse(input), Err(expected), "{input}");
    }

    #[test]
    fn known_valid_cpfs_parse() {
        check_valid("529.982.247-25", DocumentKind::Cpf, "52998224725");
        check_valid("111.444.777-35", DocumentKind::Cpf, "11144477735");
        check_valid("12345678909", DocumentKind::Cpf, "12345678909");
        check_valid("123.456.789-09", DocumentKind::Cpf, "12345678909");
    }

    #[test]
    fn known_valid_cnpjs_parse() {
        check_valid("11.222.333/0001-81", DocumentKind::Cnpj, "11222333000181");
        check_valid("11222333000181", DocumentKind::Cnpj, "11222333000181");
        check_valid("12.345.678/0001-95", DocumentKind::Cnpj, "12345678000195");
    }

    #[test]
    fn official_alphanumeric_cnpj_example_parses() {
        check_valid("12.ABC.345/01DE-35", DocumentKind::Cnpj, "12ABC34501DE35");
        check_valid("12ABC34501DE35", DocumentKind::Cnpj, "12ABC34501DE35");
    }

    #[test]
    fn lowercase_cnpj_letters_are_uppercased() {
        check_valid("12.abc.345/01de-35", DocumentKind::Cnpj, "12ABC34501DE35");
    }

    #[test]
    fn formatted_and_bare_inputs_are_equal() {
        assert_eq!(
            Document::parse("529.982.247-25").unwrap(),
            Document::parse("52998224725").unwrap()
        );
        assert_eq!(
            Document::parse("11.222.333/0001-81").unwrap(),
            Document::parse("11 222 333 0001 81").unwrap()
        );
    }

    #[test]
    fn cpf_with_wrong_check_digit_is_rejected() {
        check_invalid(
            "529.982.247-26",
            DocumentError::InvalidCheckDigits {
                kind: DocumentKind::Cpf,
            },
        );
        check_invalid(
            "52998224715",
            DocumentError::InvalidCheckDigits {
                kind: DocumentKind::Cpf,
            },
        );
    }

    #[test]
    fn cnpj_with_wrong_check_digit_is_rejected() {
        check_invalid(
            "11.222.333/0001-82",
            DocumentError::InvalidCheckDigits {
                kind: DocumentKind::Cnpj,
            },
        );
        check_invalid(
            "12.ABC.345/01DE-36",
            DocumentError::InvalidCheckDigits {
                kind: DocumentKind::Cnpj,
            },
        );
    }

    #[test]
    fn repeated_digit_documents_are_rejected() {
        check_invalid("111.111.111-11", DocumentError::RepeatedDigits);
        check_invalid("00000000000", DocumentError::RepeatedDigits);
        check_invalid("00.000.000/0000-00", DocumentError::RepeatedDigits);
        check_invalid("99999999999999", DocumentError::RepeatedDigits);
    }

    #[test]
    fn wrong_lengths_are_rejected() {
        for input in [
            "",
            "123",
            "1234567890",
            "123456789012",
            "123456789012345",
            "..--//",
        ] {
            check_invalid(input, DocumentError::InvalidLength);
        }
    }

    #[test]
    fn invalid_characters_are_rejected() {
        for input in [
            "529_982_247-25",
            "529.982.247-2A",
            "5299822472é",
            "12ABC34501DE3X",
        ] {
            check_invalid(input, DocumentError::InvalidCharacter);
        }
        // Letters are only allowed in the first twelve characters of a CNPJ.
        check_invalid("ABCDEFGHIJK", DocumentError::InvalidCharacter);
    }

    #[test]
    fn parse_cpf_and_parse_cnpj_force_the_kind() {
        assert!(Document::parse_cpf("529.982.247-25").is_ok());
        assert_eq!(
            Document::parse_cpf("11.222.333/0001-81"),
            Err(DocumentError::InvalidLength)
        );
        assert!(Document::parse_cnpj("11.222.333/0001-81").is_ok());
        assert_eq!(
            Document::parse_cnpj("529.982.247-25"),
            Err(DocumentError::InvalidLength)
        );
    }

    #[test]
    fn formatted_exposure_restores_punctuation() {
        let cpf = Document::parse("12345678909").unwrap();
        assert_eq!(cpf.expose_formatted(), "123.456.789-09");
        let cnpj = Document::parse("12345678000195").unwrap();
        assert_eq!(cnpj.expose_formatted(), "12.345.678/0001-95");
        let alphanumeric = Document::parse("12abc34501de35").unwrap();
        assert_eq!(alphanumeric.expose_formatted(), "12.ABC.345/01DE-35");
    }

    #[test]
    fn debug_and_display_are_masked() {
        let cpf = Document::parse("123.456.789-09").unwrap();
        assert_eq!(cpf.to_string(), "***.456.789-**");
        assert_eq!(cpf.masked(), "***.456.789-**");
        assert_eq!(format!("{cpf:?}"), "Document(cpf ***.456.789-**)");
        let cnpj = Document::parse("12.345.678/0001-95").unwrap();
        assert_eq!(cnpj.to_string(), "**.345.678/0001-**");
        assert_eq!(format!("{cnpj:?}"), "Document(cnpj **.345.678/0001-**)");
    }

    #[test]
    fn masked_output_never_contains_the_full_value() {
        for input in ["529.982.247-25", "11.222.333/0001-81", "12.ABC.345/01DE-35"] {
            let document = Document::parse(input).unwrap();
            let shown = [
                document.to_string(),
                format!("{document:?}"),
                format!("{:?}", Some(&document)),
            ];
            for text in shown {
                assert!(!text.contains(document.expose()), "{text}");
                assert!(!text.contains(&document.expose_formatted()), "{text}");
            }
        }
    }

    #[test]
    fn errors_never_contain_the_input() {
        let inputs = [
            "529.982.247-26",
            "5299822472",
            "52998224725x",
            "111.111.111-11",
        ];
        for input in inputs {
            let message = Document::parse(input).unwrap_err().to_string();
            assert!(!message.contains("529982"), "{message}");
            assert!(!message.contains("111.111"), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
        let json_error = serde_json::from_str::<Document>("52998224726")
            .unwrap_err()
            .to_string();
        assert!(!json_error.contains("52998224726"), "{json_error}");
        let json_error = serde_json::from_str::<Document>("\"52998224726\"")
            .unwrap_err()
            .to_string();
        assert!(!json_error.contains("52998224726"), "{json_error}");
    }

    #[test]
    fn serde_writes_bare_and_reads_formatted_or_bare() {
        let document = Document::parse("529.982.247-25").unwrap();
        assert_eq!(serde_json::to_string(&document).unwrap(), "\"52998224725\"");
        let from_formatted: Document = serde_json::from_str("\"529.982.247-25\"").unwrap();
        let from_bare: Document = serde_json::from_str("\"52998224725\"").unwrap();
        assert_eq!(from_formatted, document);
        assert_eq!(from_bare, document);
        assert!(serde_json::from_str::<Document>("\"529.982.247-26\"").is_err());
    }

    #[test]
    fn document_kind_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&DocumentKind::Cpf).unwrap(),
            "\"cpf\""
        );
        assert_eq!(
            serde_json::to_string(&DocumentKind::Cnpj).unwrap(),
            "\"cnpj\""
        );
        assert_eq!(DocumentKind::Cnpj.as_str(), "cnpj");
    }

    #[test]
    fn free_text_documents_are_masked_for_logs() {
        let cases = [
            (
                "customer 529.982.247-25 denied",
                "customer ***.982.247-** denied",
            ),
            ("cpf=52998224725,", "cpf=***.982.247-**,"),
            ("cnpj 11.222.333/0001-81.", "cnpj **.222.333/0001-**."),
            ("cnpj 12.ABC.345/01DE-35", "cnpj **.ABC.345/01DE-**"),
            ("phone 11987654321", "phone ***********"),
            ("bad 529.982.247-26 cpf", "bad ***.***.***-** cpf"),
            ("amount 12.12 at 2026-01-15", "amount 12.12 at 2026-01-15"),
            (
                "evt_0190a1b2c3d4e5f60718293a4b5c6d7e",
                "evt_0190a1b2c3d4e5f60718293a4b5c6d7e",
            ),
            ("", ""),
            ("olá 529.982.247-25 ç", "olá ***.982.247-** ç"),
        ];
        for (input, expected) in cases {
            assert_eq!(mask_document_like(input), expected, "{input}");
        }
    }

    fn cpf_from_base(base: &[u8; 9]) -> String {
        let digits: Vec<u8> = base.iter().map(|digit| b'0' + digit).collect();
        let check = cpf_check_digits(&digits);
        let mut value = String::from_utf8(digits).unwrap();
        value.push(char::from(check[0]));
        value.push(char::from(check[1]));
        value
    }

    fn cnpj_from_base(base: &[u8]) -> String {
        let check = cnpj_check_digits(base);
        let mut value = String::from_utf8(base.to_vec()).unwrap();
        value.push(char::from(check[0]));
        value.push(char::from(check[1]));
        value
    }

    fn cpf_base() -> impl Strategy<Value = [u8; 9]> {
        proptest::array::uniform9(0u8..=9).prop_filter("not all the same digit", |base| {
            base.iter().any(|digit| *digit != base[0])
        })
    }

    fn cnpj_base() -> impl Strategy<Value = Vec<u8>> {
        let alphabet: Vec<u8> = (b'0'..=b'9').chain(b'A'..=b'Z').collect();
        proptest::collection::vec(proptest::sample::select(alphabet), 12)
            .prop_filter("not all the same character", |base| {
                base.iter().any(|byte| *byte != base[0])
            })
    }

    /// An independent formulation of the check digits: `(10 * sum mod 11) mod 10`, with the
    /// CPF weights 10..2 / 11..2 and the CNPJ weights 2..9 repeating from the right.
    fn reference_is_valid(value: &[u8]) -> bool {
        let weights = |length: usize| -> Vec<u32> {
            match value.len() {
                11 => (2..=length as u32 + 1).rev().collect(),
                _ => (0..length)
                    .rev()
                    .map(|index| 2 + (index as u32 % 8))
                    .collect(),
            }
        };
        let digit = |prefix: &[u8]| -> u8 {
            let sum: u32 = prefix
                .iter()
                .zip(weights(prefix.len()))
                .map(|(byte, weight)| u32::from(byte - b'0') * weight)
                .sum();
            b'0' + ((10 * sum % 11) % 10) as u8
        };
        let length = value.len();
        let not_repeated = value.iter().any(|byte| *byte != value[0]);
        not_repeated
            && value[length - 2] == digit(&value[..length - 2])
            && value[length - 1] == digit(&value[..length - 1])
    }

    #[test]
    fn reference_check_digits_agree_with_known_documents() {
        for value in [
            "52998224725",
            "11144477735",
            "11222333000181",
            "12ABC34501DE35",
        ] {
            assert!(reference_is_valid(value.as_bytes()), "{value}");
        }
        assert!(!reference_is_valid(b"52998224726"));
    }

    #[test]
    fn a_digit_change_that_collides_modulo_eleven_is_accepted_as_the_algorithm_defines() {
        // Remainders 0 and 1 both give check digit 0, and the first CPF digit weighs 11 in the
        // second check digit: 704.999.622-06 and 804.999.622-06 are both valid CPFs.
        assert!(Document::parse("704.999.622-06").is_ok());
        assert!(Document::parse("804.999.622-06").is_ok());
    }

    proptest! {
        #[test]
        fn generated_cpfs_parse_and_stay_masked(base in cpf_base()) {
            let value = cpf_from_base(&base);
            let document = Document::parse(&value).unwrap();
            prop_assert_eq!(document.kind(), DocumentKind::Cpf);
            prop_assert_eq!(document.expose(), value.as_str());
            let debug = format!("{document:?}");
            let display = document.to_string();
            prop_assert!(!debug.contains(document.expose()));
            prop_assert!(!display.contains(document.expose()));
            prop_assert_eq!(Document::parse(&document.expose_formatted()).unwrap(), document);
        }

        #[test]
        fn generated_cnpjs_parse_and_stay_masked(base in cnpj_base()) {
            let value = cnpj_from_base(&base);
            let document = Document::parse(&value).unwrap();
            prop_assert_eq!(document.kind(), DocumentKind::Cnpj);
            let debug = format!("{document:?}");
            let display = document.to_string();
            prop_assert!(!debug.contains(document.expose()));
            prop_assert!(!display.contains(document.expose()));
            prop_assert_eq!(Document::parse(&document.expose_formatted()).unwrap(), document);
        }

        #[test]
        fn any_single_digit_change_to_a_cpf_is_rejected_unless_modulo_eleven_collides(
            base in cpf_base(),
            position in 0usize..11,
            delta in 1u8..=9,
        ) {
            let mut bytes = cpf_from_base(&base).into_bytes();
            bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
            let accepted = Document::parse(std::str::from_utf8(&bytes).unwrap()).is_ok();
            prop_assert_eq!(accepted, reference_is_valid(&bytes));
            if position >= 9 {
                prop_assert!(!accepted, "a changed check digit must never pass");
            }
        }

        #[test]
        fn any_single_digit_change_to_a_cnpj_is_rejected_unless_modulo_eleven_collides(
            base in cnpj_base(),
            which_digit in any::<proptest::sample::Index>(),
            delta in 1u8..=9,
        ) {
            let mut bytes = cnpj_from_base(&base).into_bytes();
            let digit_positions: Vec<usize> =
                (0..bytes.len()).filter(|index| bytes[*index].is_ascii_digit()).collect();
            let position = *which_digit.get(&digit_positions);
            bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
            let accepted = Document::parse(std::str::from_utf8(&bytes).unwrap()).is_ok();
            prop_assert_eq!(accepted, reference_is_valid(&bytes));
            if position >= 12 {
                prop_assert!(!accepted, "a changed check digit must never pass");
            }
        }

        #[test]
        fn parse_never_panics_on_arbitrary_text(input in ".{0,30}") {
            let _ = Document::parse(&input);
            let _ = mask_document_like(&input);
        }
    }
}
