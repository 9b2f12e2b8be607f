//! Why a message is refused (or warned about): one [`Rule`] per check, each with a stable
//! code and a text in Norwegian (bokmål), Swedish and English for the person who sent it.

use serde::Serialize;

/// A language refusals can be explained in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lang {
    #[serde(rename = "en")]
    En,
    #[serde(rename = "nb")]
    Nb,
    #[serde(rename = "sv")]
    Sv,
}

impl Lang {
    /// The first supported language of an `Accept-Language` header (weights honoured),
    /// English when none is.
    pub fn negotiate(header: Option<&str>) -> Self {
        let mut ranges: Vec<(f32, Lang)> = header
            .unwrap_or("")
            .split(',')
            .filter_map(|range| {
                let mut parts = range.trim().split(';');
                let tag = parts.next()?.trim().to_ascii_lowercase();
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q=")?.parse::<f32>().ok())
                    .unwrap_or(1.0);
                let primary = tag.split('-').next()?;
                let lang = match primary {
                    "nb" | "nn" | "no" => Lang::Nb,
                    "sv" => Lang::Sv,
                    "en" => Lang::En,
                    _ => return None,
                };
                (q > 0.0).then_some((q, lang))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranges.first().map_or(Lang::En, |(_, l)| *l)
    }

    /// The `Content-Language` tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Nb => "nb",
            Self::Sv => "sv",
        }
    }
}

macro_rules! rules {
    ($($variant:ident => $code:literal { en: $en:literal, nb: $nb:literal, sv: $sv:literal })*) => {
        /// Every check a message can fail.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rule { $($variant,)* }

        impl Rule {
            /// Every rule.
            pub const ALL: &[Rule] = &[$(Rule::$variant,)*];

            /// The stable code, as in `errors[].code`.
            pub fn code(self) -> &'static str {
                match self { $(Rule::$variant => $code,)* }
            }

            /// What the rule says, for a person, in `lang`.
            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Rule::$variant, Lang::En) => $en,
                      (Rule::$variant, Lang::Nb) => $nb,
                      (Rule::$variant, Lang::Sv) => $sv,)*
                }
            }
        }
    };
}

rules! {
    UnknownRecipient => "unknown_recipient" {
        en: "The recipient is not a receiving agency of the directory.",
        nb: "Mottakeren er ikke en mottakende virksomhet i katalogen.",
        sv: "Mottagaren är inte en mottagande myndighet i katalogen."
    }
    RecipientMunicipality => "recipient_municipality" {
        en: "The recipient does not serve the municipality the message is about.",
        nb: "Mottakeren betjener ikke kommunen meldingen gjelder.",
        sv: "Mottagaren betjänar inte den kommun meddelandet gäller."
    }
    KindRecipient => "kind_recipient" {
        en: "This kind of message cannot go to this type of agency.",
        nb: "Denne typen melding kan ikke sendes til denne typen virksomhet.",
        sv: "Denna typ av meddelande kan inte skickas till denna typ av verksamhet."
    }
    KindSender => "kind_sender" {
        en: "Your type of agency may not send this kind of message.",
        nb: "Din type virksomhet kan ikke sende denne typen melding.",
        sv: "Din typ av verksamhet får inte skicka denna typ av meddelande."
    }
    NotMember => "not_in_cooperation" {
        en: "This kind of message goes only to a cooperation your agency takes part in.",
        nb: "Denne typen melding kan bare sendes til et samarbeid din virksomhet deltar i.",
        sv: "Denna typ av meddelande får bara skickas till ett samarbete din verksamhet deltar i."
    }
    CrossBorder => "cross_border" {
        en: "Sender, recipient and legal basis must belong to the same country.",
        nb: "Avsender, mottaker og hjemmel må høre til samme land.",
        sv: "Avsändare, mottagare och rättslig grund måste höra till samma land."
    }
    SenderOrganisation => "sender_organisation" {
        en: "The message names an organisation that is not yours.",
        nb: "Meldingen oppgir en annen virksomhet enn din egen.",
        sv: "Meddelandet anger en annan organisation än din egen."
    }
    BasisUnknown => "unknown_legal_basis" {
        en: "This legal basis is not in the catalog.",
        nb: "Dette hjemmelsgrunnlaget finnes ikke i katalogen.",
        sv: "Denna rättsliga grund finns inte i katalogen."
    }
    BasisReplaced => "legal_basis_replaced" {
        en: "This tag is no longer used: the tags in `replacedBy` replace it.",
        nb: "Denne taggen brukes ikke lenger: taggene i `replacedBy` erstatter den.",
        sv: "Denna tagg används inte längre: taggarna i `replacedBy` ersätter den."
    }
    BasisNotInForce => "not_in_force" {
        en: "This legal basis is not in force on the message's date (not yet, or no longer), or nothing under it is (e.g. a power to make regulations under which no regulation is in force); see the statute.",
        nb: "Dette hjemmelsgrunnlaget er ikke i kraft på meldingens dato (ennå ikke, eller ikke lenger), eller ingenting etter det er det (f.eks. en forskriftshjemmel uten forskrift i kraft); se lovhenvisningen.",
        sv: "Denna rättsliga grund gäller inte på meddelandets datum (ännu inte, eller inte längre), eller inget som meddelats med stöd av den gäller (t.ex. ett bemyndigande utan föreskrifter i kraft); se lagrummet."
    }
    BasisWrongKind => "wrong_kind" {
        en: "This legal basis does not cover this kind of message.",
        nb: "Hjemmelen dekker ikke denne typen melding.",
        sv: "Den rättsliga grunden omfattar inte denna typ av meddelande."
    }
    SenderType => "sender_type" {
        en: "Your type of agency may not share under this legal basis.",
        nb: "Din type virksomhet kan ikke dele opplysninger etter denne hjemmelen.",
        sv: "Din typ av verksamhet får inte lämna uppgifter enligt denna grund."
    }
    SenderBarred => "sender_barred" {
        en: "This legal basis may never be used by your type of agency.",
        nb: "Denne hjemmelen kan aldri brukes av din type virksomhet.",
        sv: "Denna grund får aldrig användas av din typ av verksamhet."
    }
    BasisUnverified => "basis_unverified" {
        en: "The section this legal basis cites is not yet checked against the statute's text: the sharing is allowed, and the reference may be corrected.",
        nb: "Paragrafen denne hjemmelen viser til, er ennå ikke kontrollert mot lovteksten: delingen er tillatt, og henvisningen kan bli rettet.",
        sv: "Paragrafen som denna grund hänvisar till är ännu inte kontrollerad mot lagtexten: delningen är tillåten, och hänvisningen kan komma att rättas."
    }
    SenderWarned => "sender_warned" {
        en: "Your type of agency may use this legal basis only after a careful weighing in the individual case.",
        nb: "Din type virksomhet kan bruke denne hjemmelen bare etter en grundig vurdering i den enkelte saken.",
        sv: "Din typ av verksamhet får använda denna grund endast efter en noggrann prövning i det enskilda fallet."
    }
    RecipientType => "recipient_type" {
        en: "The recipient's type of agency may not receive under this legal basis.",
        nb: "Mottakerens type virksomhet kan ikke motta opplysninger etter denne hjemmelen.",
        sv: "Mottagarens typ av verksamhet får inte ta emot uppgifter enligt denna grund."
    }
    GroupRecipient => "group_recipient" {
        en: "This legal basis allows sharing with one named agency only, not with a group.",
        nb: "Hjemmelen tillater deling med én navngitt virksomhet, ikke med en gruppe.",
        sv: "Grunden tillåter utlämnande till en namngiven myndighet, inte till en grupp."
    }
    SubjectTooOld => "subject_age" {
        en: "The person is older than this legal basis allows.",
        nb: "Personen er eldre enn hjemmelen tillater.",
        sv: "Personen är äldre än grunden tillåter."
    }
    SubjectUnborn => "subject_unborn" {
        en: "This legal basis does not cover an unborn child.",
        nb: "Hjemmelen omfatter ikke et ufødt barn.",
        sv: "Grunden omfattar inte ett ofött barn."
    }
    SubjectMismatch => "subject_mismatch" {
        en: "The age or birth date given does not agree with the national ID or birth date in the message.",
        nb: "Oppgitt alder eller fødselsdato stemmer ikke med fødselsnummeret eller fødselsdatoen i meldingen.",
        sv: "Angiven ålder eller födelsedatum stämmer inte med personnumret eller födelsedatumet i meddelandet."
    }
    SubjectUnknownBirth => "subject_birth_unreadable" {
        en: "No birth date in the past can be read from this national ID or date.",
        nb: "Fødselsnummeret eller datoen gir ingen gyldig fødselsdato tilbake i tid.",
        sv: "Personnumret eller datumet ger inget giltigt födelsedatum bakåt i tiden."
    }
    ConsentMissing => "consent_missing" {
        en: "This legal basis requires a reference to a recorded consent.",
        nb: "Hjemmelen krever henvisning til et registrert samtykke.",
        sv: "Grunden kräver hänvisning till ett registrerat samtycke."
    }
    ConsentUnknown => "consent_unknown" {
        en: "Your organisation has recorded no consent with this reference.",
        nb: "Din virksomhet har ikke registrert noe samtykke med denne referansen.",
        sv: "Din organisation har inte registrerat något samtycke med denna referens."
    }
    ConsentWithdrawn => "consent_withdrawn" {
        en: "The consent has been withdrawn.",
        nb: "Samtykket er trukket tilbake.",
        sv: "Samtycket har återkallats."
    }
    ConsentNotValid => "consent_not_valid" {
        en: "The consent is not valid today (expired or not yet valid).",
        nb: "Samtykket er ikke gyldig i dag (utløpt eller ikke trådt i kraft).",
        sv: "Samtycket gäller inte i dag (har upphört eller har inte börjat gälla)."
    }
    ConsentSubject => "consent_subject" {
        en: "The consent was given for another person.",
        nb: "Samtykket gjelder en annen person.",
        sv: "Samtycket gäller en annan person."
    }
    ConsentPurpose => "consent_purpose" {
        en: "The consent does not cover this purpose.",
        nb: "Samtykket dekker ikke dette formålet.",
        sv: "Samtycket omfattar inte detta ändamål."
    }
    ConsentRecipient => "consent_recipient" {
        en: "The consent does not cover this recipient.",
        nb: "Samtykket dekker ikke denne mottakeren.",
        sv: "Samtycket omfattar inte denna mottagare."
    }
    ConsentCategory => "consent_category" {
        en: "The consent does not cover this information.",
        nb: "Samtykket dekker ikke denne opplysningen.",
        sv: "Samtycket omfattar inte denna uppgift."
    }
    GuardianConsentMissing => "guardian_consent_missing" {
        en: "The guardians must consent too.",
        nb: "Foreldrene (de med foreldreansvar) må også samtykke.",
        sv: "Vårdnadshavarna måste också samtycka."
    }
    GuardianDataConsent => "guardian_data_consent" {
        en: "This is information about the guardians: only their own consent covers it.",
        nb: "Dette er opplysninger om foreldrene: bare deres eget samtykke dekker dem.",
        sv: "Detta är uppgifter om vårdnadshavarna: bara deras eget samtycke omfattar dem."
    }
    SubjectConsentMissing => "subject_consent_missing" {
        en: "The person must consent themselves.",
        nb: "Personen må selv samtykke.",
        sv: "Personen måste själv samtycka."
    }
    AttestationMissing => "attestation_missing" {
        en: "A statement this legal basis requires you to confirm is missing.",
        nb: "En vurdering hjemmelen krever at du bekrefter, mangler.",
        sv: "En bedömning som grunden kräver att du bekräftar saknas."
    }
    AttestationUnknown => "attestation_unknown" {
        en: "This statement is not one this legal basis asks for.",
        nb: "Denne vurderingen hører ikke til hjemmelen.",
        sv: "Denna bedömning hör inte till grunden."
    }
    FieldNotAllowed => "field_not_allowed" {
        en: "This information may not be shared under this legal basis.",
        nb: "Denne opplysningen kan ikke deles etter denne hjemmelen.",
        sv: "Denna uppgift får inte lämnas ut enligt denna grund."
    }
    FieldRequired => "field_required" {
        en: "This information is required under this legal basis.",
        nb: "Denne opplysningen er påkrevd etter denne hjemmelen.",
        sv: "Denna uppgift krävs enligt denna grund."
    }
    IdentifierInText => "identifier_in_text" {
        en: "The text contains something that can identify a person (`found` names what: a national ID, phone number, e-mail address, date, week number, class, name or place), or a referring unit that is not a municipality; an anonymised message may not.",
        nb: "Teksten inneholder noe som kan identifisere en person (`found` sier hva: fødselsnummer, telefonnummer, e-postadresse, dato, ukenummer, klasse, navn eller sted), eller en henvisende enhet som ikke er en kommune; en anonymisert melding kan ikke det.",
        sv: "Texten innehåller något som kan identifiera en person (`found` anger vad: personnummer, telefonnummer, e-postadress, datum, veckonummer, klass, namn eller ort), eller en remitterande enhet som inte är en kommun; ett avidentifierat meddelande får inte det."
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(Lang::negotiate(None), Lang::En);
        assert_eq!(Lang::negotiate(Some("nb-NO,nb;q=0.9,en;q=0.5")), Lang::Nb);
        assert_eq!(Lang::negotiate(Some("de, sv;q=0.8, en;q=0.7")), Lang::Sv);
        assert_eq!(Lang::negotiate(Some("nn")), Lang::Nb);
        assert_eq!(Lang::negotiate(Some("en;q=0.2, sv;q=0.9")), Lang::Sv);
        assert_eq!(Lang::negotiate(Some("fr")), Lang::En);
    }

    #[test]
    fn every_rule_has_a_unique_code_and_three_texts() {
        let codes: HashSet<_> = Rule::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), Rule::ALL.len());
        for rule in Rule::ALL {
            let texts = [Lang::En, Lang::Nb, Lang::Sv].map(|l| rule.text(l));
            assert!(texts.iter().all(|t| !t.is_empty()));
            assert_ne!(texts[0], texts[1]);
        }
    }
}
