"""The pages' languages (en, nl, de, fr): negotiation, the message catalogue, dates and numbers.

Negotiation: ``?lang=`` when it names a supported language, else the first language of
``Accept-Language`` (by weight) whose primary subtag is supported, else English. Every message
exists in every language (a test checks), so there is no per-message fallback to hide gaps.

What is *not* translated here: the credential's own texts (title, outcomes, partner names). They
are signed in one language (``achievement.inLanguage``); the pages show them as signed and mark
them with that ``lang`` so assistive technology reads them correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

DEFAULT_LANGUAGE = "en"
LANGUAGES: tuple[str, ...] = ("en", "nl", "de", "fr")
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands", "de": "Deutsch", "fr": "Français"}

_MONTH_NAMES = {
    "en": "January February March April May June July August September October November December",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}
_MONTHS = {language: names.split() for language, names in _MONTH_NAMES.items()}


def accept_language(header: str | None) -> list[str]:
    """``nl-BE,nl;q=0.9,en;q=0.5,*;q=0.1`` -> ``['nl-be', 'nl', 'en']``: by weight, then order; q=0,
    ``*`` and malformed entries dropped. Bounded: at most 32 entries of a header are read."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "")[:1024].split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if not tag or tag == "*" or not 0 < q <= 1 or not all(part.isalnum() for part in tag.split("-")):
            continue
        weighted.append((-q, position, tag))
    return list(dict.fromkeys(tag for _, _, tag in sorted(weighted)))


def negotiate(query_lang: str | None, header: str | None) -> str:
    """The page language: a supported ``?lang=``, else Accept-Language, else English."""
    if query_lang and query_lang.strip().lower() in LANGUAGES:
        return query_lang.strip().lower()
    for tag in accept_language(header):
        primary = tag.split("-")[0]
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


# Every key in every language. Placeholders use str.format names; values are escaped by the
# templates (autoescape), never marked safe.
MESSAGES: dict[str, dict[str, str]] = {
    # -- layout
    "site_name": {
        "en": "Tessera credentials",
        "nl": "Tessera-credentials",
        "de": "Tessera-Nachweise",
        "fr": "Justificatifs Tessera",
    },
    "skip_to_content": {
        "en": "Skip to main content",
        "nl": "Naar de hoofdinhoud",
        "de": "Zum Hauptinhalt springen",
        "fr": "Aller au contenu principal",
    },
    "language": {"en": "Language", "nl": "Taal", "de": "Sprache", "fr": "Langue"},
    "footer": {
        "en": "Joint micro-credentials of the Tessera consortium of European universities.",
        "nl": "Gezamenlijke microcredentials van het Tessera-consortium van Europese universiteiten.",
        "de": "Gemeinsame Microcredentials des Tessera-Konsortiums europäischer Universitäten.",
        "fr": "Microcertifications conjointes du consortium Tessera d'universités européennes.",
    },
    # -- the credential (public verification page)
    "credential_page_title": {
        "en": "{title}: verification",
        "nl": "{title}: verificatie",
        "de": "{title}: Überprüfung",
        "fr": "{title} : vérification",
    },
    "micro_credential": {
        "en": "Micro-credential",
        "nl": "Microcredential",
        "de": "Microcredential",
        "fr": "Microcertification",
    },
    "pathway_credential": {
        "en": "Stacked credential (pathway)",
        "nl": "Gestapeld credential (leertraject)",
        "de": "Gestapelter Nachweis (Lernpfad)",
        "fr": "Justificatif cumulé (parcours)",
    },
    "awarded_to": {"en": "Awarded to", "nl": "Toegekend aan", "de": "Verliehen an", "fr": "Décerné à"},
    "key_facts": {"en": "Key facts", "nl": "Kerngegevens", "de": "Eckdaten", "fr": "Informations clés"},
    "ects": {"en": "ECTS credits", "nl": "ECTS-studiepunten", "de": "ECTS-Punkte", "fr": "Crédits ECTS"},
    "ects_earned": {
        "en": "ECTS credits earned",
        "nl": "Behaalde ECTS-studiepunten",
        "de": "Erworbene ECTS-Punkte",
        "fr": "Crédits ECTS obtenus",
    },
    "eqf_level": {"en": "EQF level", "nl": "EQF-niveau", "de": "EQR-Niveau", "fr": "Niveau CEC"},
    "issued_on": {"en": "Issued on", "nl": "Uitgereikt op", "de": "Ausgestellt am", "fr": "Délivré le"},
    "awarded_on": {"en": "Awarded on", "nl": "Toegekend op", "de": "Verliehen am", "fr": "Décerné le"},
    "valid_until": {"en": "Valid until", "nl": "Geldig tot", "de": "Gültig bis", "fr": "Valable jusqu'au"},
    "no_expiry": {
        "en": "Does not expire",
        "nl": "Verloopt niet",
        "de": "Läuft nicht ab",
        "fr": "N'expire pas",
    },
    "description": {"en": "Description", "nl": "Beschrijving", "de": "Beschreibung", "fr": "Description"},
    "learning_outcomes": {
        "en": "Learning outcomes",
        "nl": "Leerresultaten",
        "de": "Lernergebnisse",
        "fr": "Acquis d'apprentissage",
    },
    "esco_skill": {
        "en": "ESCO skill",
        "nl": "ESCO-vaardigheid",
        "de": "ESCO-Kompetenz",
        "fr": "Compétence ESCO",
    },
    "stacked_credentials": {
        "en": "Micro-credentials included",
        "nl": "Inbegrepen microcredentials",
        "de": "Enthaltene Microcredentials",
        "fr": "Microcertifications incluses",
    },
    "awarding_bodies": {
        "en": "Awarding institutions",
        "nl": "Toekennende instellingen",
        "de": "Verleihende Hochschulen",
        "fr": "Établissements délivrant la certification",
    },
    "role_issuer": {
        "en": "Coordinating institution and issuer",
        "nl": "Coördinerende instelling en uitgever",
        "de": "Koordinierende Hochschule und Ausstellerin",
        "fr": "Établissement coordinateur et émetteur",
    },
    "role_co_awarder": {
        "en": "Co-awarding institution",
        "nl": "Mede-toekennende instelling",
        "de": "Mitverleihende Hochschule",
        "fr": "Établissement co-délivrant",
    },
    "logo_of": {"en": "Logo of {name}", "nl": "Logo van {name}", "de": "Logo von {name}", "fr": "Logo de {name}"},
    "country": {"en": "Country", "nl": "Land", "de": "Land", "fr": "Pays"},
    "website_of": {
        "en": "Website of {name}",
        "nl": "Website van {name}",
        "de": "Website von {name}",
        "fr": "Site web de {name}",
    },
    # -- status
    "status": {"en": "Status", "nl": "Status", "de": "Status", "fr": "Statut"},
    "status_active": {"en": "Active", "nl": "Actief", "de": "Aktiv", "fr": "Actif"},
    "status_revoked": {"en": "Revoked", "nl": "Ingetrokken", "de": "Widerrufen", "fr": "Révoqué"},
    "status_superseded": {"en": "Superseded", "nl": "Vervangen", "de": "Ersetzt", "fr": "Remplacé"},
    "status_active_text": {
        "en": "This credential has not been revoked.",
        "nl": "Dit credential is niet ingetrokken.",
        "de": "Dieser Nachweis wurde nicht widerrufen.",
        "fr": "Ce justificatif n'a pas été révoqué.",
    },
    "status_revoked_text": {
        "en": "This credential was revoked on {date}. It must no longer be relied on.",
        "nl": "Dit credential is op {date} ingetrokken. U kunt er niet langer op vertrouwen.",
        "de": "Dieser Nachweis wurde am {date} widerrufen. Er ist nicht mehr gültig.",
        "fr": "Ce justificatif a été révoqué le {date}. Il ne fait plus foi.",
    },
    "status_superseded_text": {
        "en": "This credential was replaced by a corrected one on {date}.",
        "nl": "Dit credential is op {date} vervangen door een gecorrigeerd credential.",
        "de": "Dieser Nachweis wurde am {date} durch einen berichtigten Nachweis ersetzt.",
        "fr": "Ce justificatif a été remplacé le {date} par un justificatif corrigé.",
    },
    "successor_link": {
        "en": "View the credential that replaces it",
        "nl": "Bekijk het credential dat het vervangt",
        "de": "Den ersetzenden Nachweis ansehen",
        "fr": "Voir le justificatif qui le remplace",
    },
    "predecessor_link": {
        "en": "This credential replaces an earlier one",
        "nl": "Dit credential vervangt een eerder credential",
        "de": "Dieser Nachweis ersetzt einen früheren",
        "fr": "Ce justificatif remplace un justificatif antérieur",
    },
    # -- verification
    "verification": {"en": "Verification", "nl": "Verificatie", "de": "Überprüfung", "fr": "Vérification"},
    "verdict_valid": {
        "en": "Verified: this credential is authentic and valid.",
        "nl": "Geverifieerd: dit credential is echt en geldig.",
        "de": "Überprüft: Dieser Nachweis ist echt und gültig.",
        "fr": "Vérifié : ce justificatif est authentique et valide.",
    },
    "verdict_invalid": {
        "en": "Not valid: at least one check failed.",
        "nl": "Niet geldig: minstens één controle is mislukt.",
        "de": "Nicht gültig: Mindestens eine Prüfung ist fehlgeschlagen.",
        "fr": "Non valide : au moins une vérification a échoué.",
    },
    "verdict_indeterminate": {
        "en": "Not fully verified yet: a check could not be completed. Please try again later.",
        "nl": "Nog niet volledig geverifieerd: een controle kon niet worden afgerond. Probeer het later opnieuw.",
        "de": "Noch nicht vollständig überprüft: Eine Prüfung konnte nicht abgeschlossen werden. "
        "Bitte später erneut versuchen.",
        "fr": "Pas encore entièrement vérifié : une vérification n'a pas pu aboutir. Veuillez réessayer plus tard.",
    },
    "verdict_unavailable": {
        "en": "The verification could not be run right now. Please try again later.",
        "nl": "De verificatie kon nu niet worden uitgevoerd. Probeer het later opnieuw.",
        "de": "Die Überprüfung konnte gerade nicht durchgeführt werden. Bitte später erneut versuchen.",
        "fr": "La vérification n'a pas pu être effectuée pour le moment. Veuillez réessayer plus tard.",
    },
    "checked_at": {
        "en": "Checked on {when}.",
        "nl": "Gecontroleerd op {when}.",
        "de": "Geprüft am {when}.",
        "fr": "Vérifié le {when}.",
    },
    "checks": {
        "en": "What was checked",
        "nl": "Wat is gecontroleerd",
        "de": "Was geprüft wurde",
        "fr": "Ce qui a été vérifié",
    },
    "check_passed": {"en": "Passed", "nl": "Geslaagd", "de": "Bestanden", "fr": "Réussi"},
    "check_failed": {"en": "Failed", "nl": "Mislukt", "de": "Fehlgeschlagen", "fr": "Échoué"},
    "check_unknown": {"en": "Not determined", "nl": "Niet bepaald", "de": "Nicht bestimmt", "fr": "Indéterminé"},
    "check_signed_by": {
        "en": "Signed by {name}",
        "nl": "Ondertekend door {name}",
        "de": "Signiert von {name}",
        "fr": "Signé par {name}",
    },
    "check_not_signed_by": {
        "en": "No valid signature of {name}",
        "nl": "Geen geldige handtekening van {name}",
        "de": "Keine gültige Signatur von {name}",
        "fr": "Aucune signature valide de {name}",
    },
    "check_issuer_first": {
        "en": "The issuer's signature comes first and is valid",
        "nl": "De handtekening van de uitgever staat eerst en is geldig",
        "de": "Die Signatur der Ausstellerin steht an erster Stelle und ist gültig",
        "fr": "La signature de l'émetteur figure en premier et est valide",
    },
    "check_trusted": {
        "en": "Issued by a member of the consortium",
        "nl": "Uitgereikt door een lid van het consortium",
        "de": "Von einem Mitglied des Konsortiums ausgestellt",
        "fr": "Délivré par un membre du consortium",
    },
    "check_schemas": {
        "en": "Conforms to the Open Badges 3.0 schemas",
        "nl": "Voldoet aan de Open Badges 3.0-schema's",
        "de": "Entspricht den Open-Badges-3.0-Schemas",
        "fr": "Conforme aux schémas Open Badges 3.0",
    },
    "check_signable": {
        "en": "Every statement is covered by the signatures",
        "nl": "Elke bewering valt onder de handtekeningen",
        "de": "Jede Angabe ist von den Signaturen abgedeckt",
        "fr": "Chaque information est couverte par les signatures",
    },
    "check_not_revoked": {
        "en": "Not revoked (status list)",
        "nl": "Niet ingetrokken (statuslijst)",
        "de": "Nicht widerrufen (Statusliste)",
        "fr": "Non révoqué (liste de statuts)",
    },
    "check_validity": {
        "en": "Within its validity period",
        "nl": "Binnen de geldigheidsperiode",
        "de": "Innerhalb des Gültigkeitszeitraums",
        "fr": "Dans sa période de validité",
    },
    "problems": {
        "en": "Problems found (technical, in English)",
        "nl": "Gevonden problemen (technisch, in het Engels)",
        "de": "Gefundene Probleme (technisch, auf Englisch)",
        "fr": "Problèmes détectés (techniques, en anglais)",
    },
    "downloads": {"en": "Downloads", "nl": "Downloads", "de": "Downloads", "fr": "Téléchargements"},
    "download_json": {
        "en": "Download the credential (JSON)",
        "nl": "Download het credential (JSON)",
        "de": "Nachweis herunterladen (JSON)",
        "fr": "Télécharger le justificatif (JSON)",
    },
    "download_pdf": {
        "en": "Download the certificate (PDF)",
        "nl": "Download het certificaat (PDF)",
        "de": "Zertifikat herunterladen (PDF)",
        "fr": "Télécharger le certificat (PDF)",
    },
    "json_explained": {
        "en": "The JSON file is the signed Open Badges 3.0 credential itself: any compatible verifier can "
        "check it independently.",
        "nl": "Het JSON-bestand is het ondertekende Open Badges 3.0-credential zelf: elke compatibele "
        "verificatietool kan het onafhankelijk controleren.",
        "de": "Die JSON-Datei ist der signierte Open-Badges-3.0-Nachweis selbst: Jedes kompatible "
        "Prüfwerkzeug kann ihn unabhängig prüfen.",
        "fr": "Le fichier JSON est le justificatif Open Badges 3.0 signé lui-même : tout outil de "
        "vérification compatible peut le contrôler de manière indépendante.",
    },
    "not_found_title": {
        "en": "Credential not found",
        "nl": "Credential niet gevonden",
        "de": "Nachweis nicht gefunden",
        "fr": "Justificatif introuvable",
    },
    "not_found_text": {
        "en": "No credential is shared at this address. Check that the link is complete.",
        "nl": "Op dit adres wordt geen credential gedeeld. Controleer of de link volledig is.",
        "de": "Unter dieser Adresse wird kein Nachweis geteilt. Bitte prüfen Sie, ob der Link vollständig ist.",
        "fr": "Aucun justificatif n'est partagé à cette adresse. Vérifiez que le lien est complet.",
    },
    # -- backpack
    "backpack": {"en": "My backpack", "nl": "Mijn rugzak", "de": "Mein Rucksack", "fr": "Mon sac à dos"},
    "signed_in_as": {
        "en": "Signed in as {name}",
        "nl": "Aangemeld als {name}",
        "de": "Angemeldet als {name}",
        "fr": "Connecté en tant que {name}",
    },
    "sign_out": {"en": "Sign out", "nl": "Afmelden", "de": "Abmelden", "fr": "Se déconnecter"},
    "sign_in": {"en": "Sign in", "nl": "Aanmelden", "de": "Anmelden", "fr": "Se connecter"},
    "sign_in_title": {
        "en": "Sign in to your backpack",
        "nl": "Meld u aan bij uw rugzak",
        "de": "Bei Ihrem Rucksack anmelden",
        "fr": "Connectez-vous à votre sac à dos",
    },
    "sign_in_help": {
        "en": "Your learner portal opens your backpack for you. If it gave you an access token instead, "
        "paste it here. The token is kept only in a cookie that scripts cannot read, sent only to the "
        "backpack, for at most {minutes} minutes.",
        "nl": "Uw studentenportaal opent uw rugzak voor u. Kreeg u in plaats daarvan een toegangstoken, "
        "plak het dan hier. Het token wordt alleen bewaard in een cookie die scripts niet kunnen lezen, "
        "wordt alleen naar de rugzak gestuurd en blijft hoogstens {minutes} minuten geldig.",
        "de": "Ihr Lernendenportal öffnet Ihren Rucksack für Sie. Wenn es Ihnen stattdessen ein Zugangstoken "
        "gegeben hat, fügen Sie es hier ein. Das Token wird nur in einem Cookie gespeichert, das Skripte nicht "
        "lesen können, nur an den Rucksack gesendet und höchstens {minutes} Minuten lang verwendet.",
        "fr": "Votre portail apprenant ouvre votre sac à dos pour vous. S'il vous a plutôt donné un jeton "
        "d'accès, collez-le ici. Le jeton n'est conservé que dans un cookie illisible par les scripts, "
        "envoyé uniquement au sac à dos, pendant {minutes} minutes au plus.",
    },
    "token_label": {
        "en": "Access token",
        "nl": "Toegangstoken",
        "de": "Zugangstoken",
        "fr": "Jeton d'accès",
    },
    "auth_missing": {
        "en": "Please sign in to see your backpack.",
        "nl": "Meld u aan om uw rugzak te zien.",
        "de": "Bitte melden Sie sich an, um Ihren Rucksack zu sehen.",
        "fr": "Veuillez vous connecter pour voir votre sac à dos.",
    },
    "auth_invalid": {
        "en": "Your sign-in is not valid or has expired. Please sign in again.",
        "nl": "Uw aanmelding is ongeldig of verlopen. Meld u opnieuw aan.",
        "de": "Ihre Anmeldung ist ungültig oder abgelaufen. Bitte melden Sie sich erneut an.",
        "fr": "Votre connexion n'est pas valide ou a expiré. Veuillez vous reconnecter.",
    },
    "auth_not_learner": {
        "en": "The backpack is for learners: this account is not a learner account.",
        "nl": "De rugzak is voor lerenden: dit account is geen account van een lerende.",
        "de": "Der Rucksack ist für Lernende: Dieses Konto ist kein Konto einer lernenden Person.",
        "fr": "Le sac à dos est réservé aux apprenants : ce compte n'est pas un compte apprenant.",
    },
    "my_credentials": {
        "en": "My credentials",
        "nl": "Mijn credentials",
        "de": "Meine Nachweise",
        "fr": "Mes justificatifs",
    },
    "no_credentials": {
        "en": "You have no credentials yet.",
        "nl": "U hebt nog geen credentials.",
        "de": "Sie haben noch keine Nachweise.",
        "fr": "Vous n'avez pas encore de justificatif.",
    },
    "share_link": {"en": "Share link", "nl": "Deellink", "de": "Link zum Teilen", "fr": "Lien de partage"},
    "share_help": {
        "en": "Anyone with this link can see and verify the credential.",
        "nl": "Iedereen met deze link kan het credential bekijken en verifiëren.",
        "de": "Alle, die diesen Link haben, können den Nachweis sehen und prüfen.",
        "fr": "Toute personne disposant de ce lien peut voir et vérifier le justificatif.",
    },
    "open_verification_page": {
        "en": "Open the verification page",
        "nl": "Open de verificatiepagina",
        "de": "Prüfseite öffnen",
        "fr": "Ouvrir la page de vérification",
    },
    "add_to_linkedin": {
        "en": "Add to LinkedIn profile",
        "nl": "Toevoegen aan LinkedIn-profiel",
        "de": "Zum LinkedIn-Profil hinzufügen",
        "fr": "Ajouter au profil LinkedIn",
    },
    "opens_external": {
        "en": "(opens linkedin.com)",
        "nl": "(opent linkedin.com)",
        "de": "(öffnet linkedin.com)",
        "fr": "(ouvre linkedin.com)",
    },
    "revocation_reason": {
        "en": "Reason given",
        "nl": "Opgegeven reden",
        "de": "Angegebener Grund",
        "fr": "Motif indiqué",
    },
    "progress": {
        "en": "Progress in my enrolments",
        "nl": "Voortgang in mijn inschrijvingen",
        "de": "Fortschritt in meinen Einschreibungen",
        "fr": "Progression dans mes inscriptions",
    },
    "no_progress": {
        "en": "Nothing is known yet about your enrolments.",
        "nl": "Er is nog niets bekend over uw inschrijvingen.",
        "de": "Zu Ihren Einschreibungen ist noch nichts bekannt.",
        "fr": "Rien n'est encore connu de vos inscriptions.",
    },
    "progress_label": {
        "en": "Progress towards the award criteria",
        "nl": "Voortgang naar de toekenningscriteria",
        "de": "Fortschritt zu den Vergabekriterien",
        "fr": "Progression vers les critères d'attribution",
    },
    "criteria": {
        "en": "Award criteria",
        "nl": "Toekenningscriteria",
        "de": "Vergabekriterien",
        "fr": "Critères d'attribution",
    },
    "criterion_met": {"en": "met", "nl": "voldaan", "de": "erfüllt", "fr": "rempli"},
    "criterion_not_met": {"en": "not met", "nl": "niet voldaan", "de": "nicht erfüllt", "fr": "non rempli"},
    "not_evaluated": {
        "en": "Not evaluated yet.",
        "nl": "Nog niet geëvalueerd.",
        "de": "Noch nicht ausgewertet.",
        "fr": "Pas encore évalué.",
    },
    "view_credential": {
        "en": "View the credential",
        "nl": "Bekijk het credential",
        "de": "Nachweis ansehen",
        "fr": "Voir le justificatif",
    },
    "outcome_awarded": {"en": "Awarded", "nl": "Toegekend", "de": "Verliehen", "fr": "Décerné"},
    "outcome_not_met": {
        "en": "Criteria not met yet",
        "nl": "Criteria nog niet voldaan",
        "de": "Kriterien noch nicht erfüllt",
        "fr": "Critères pas encore remplis",
    },
    "outcome_met_not_admitted": {
        "en": "Criteria met, but the enrolment is not (yet) admitted",
        "nl": "Criteria voldaan, maar de inschrijving is (nog) niet toegelaten",
        "de": "Kriterien erfüllt, aber die Einschreibung ist (noch) nicht zugelassen",
        "fr": "Critères remplis, mais l'inscription n'est pas (encore) admise",
    },
    "outcome_enrolment_ended": {
        "en": "Enrolment ended",
        "nl": "Inschrijving beëindigd",
        "de": "Einschreibung beendet",
        "fr": "Inscription terminée",
    },
    "outcome_waiting_for_offering": {
        "en": "Waiting for the offering's details",
        "nl": "Wachten op de gegevens van het aanbod",
        "de": "Warten auf die Angaben zum Angebot",
        "fr": "En attente des informations de l'offre",
    },
    "outcome_held_via_other_offering": {
        "en": "Already awarded through another edition",
        "nl": "Al toegekend via een andere editie",
        "de": "Bereits über eine andere Durchführung verliehen",
        "fr": "Déjà décerné via une autre édition",
    },
    "outcome_unknown": {
        "en": "Status: {value}",
        "nl": "Status: {value}",
        "de": "Status: {value}",
        "fr": "Statut : {value}",
    },
    # -- explanation criteria (localised from the explanation's structured fields)
    "crit_component_no_result": {
        "en": "Component {code}: no result yet",
        "nl": "Onderdeel {code}: nog geen resultaat",
        "de": "Modul {code}: noch kein Ergebnis",
        "fr": "Composante {code} : pas encore de résultat",
    },
    "crit_component_passed": {
        "en": "Component {code} passed",
        "nl": "Onderdeel {code} geslaagd",
        "de": "Modul {code} bestanden",
        "fr": "Composante {code} réussie",
    },
    "crit_component_not_passed": {
        "en": "Component {code} not passed",
        "nl": "Onderdeel {code} niet geslaagd",
        "de": "Modul {code} nicht bestanden",
        "fr": "Composante {code} non réussie",
    },
    "crit_component_minimum": {
        "en": "Component {code}: grade {found} (at least {threshold} required)",
        "nl": "Onderdeel {code}: cijfer {found} (minstens {threshold} vereist)",
        "de": "Modul {code}: Note {found} (mindestens {threshold} erforderlich)",
        "fr": "Composante {code} : note {found} (au moins {threshold} requis)",
    },
    "crit_ects": {
        "en": "{found} of {out_of} ECTS credits passed ({threshold} required)",
        "nl": "{found} van {out_of} ECTS-studiepunten behaald ({threshold} vereist)",
        "de": "{found} von {out_of} ECTS-Punkten bestanden ({threshold} erforderlich)",
        "fr": "{found} crédits ECTS sur {out_of} obtenus ({threshold} requis)",
    },
    "crit_average": {
        "en": "Weighted average grade {found} (at least {threshold} required)",
        "nl": "Gewogen gemiddeld cijfer {found} (minstens {threshold} vereist)",
        "de": "Gewichtete Durchschnittsnote {found} (mindestens {threshold} erforderlich)",
        "fr": "Moyenne pondérée {found} (au moins {threshold} requis)",
    },
    "crit_average_none": {
        "en": "Weighted average grade: nothing to average yet ({threshold} required)",
        "nl": "Gewogen gemiddeld cijfer: nog niets om te middelen ({threshold} vereist)",
        "de": "Gewichtete Durchschnittsnote: noch nichts zu mitteln ({threshold} erforderlich)",
        "fr": "Moyenne pondérée : rien à calculer pour l'instant ({threshold} requis)",
    },
    "crit_attendance": {
        "en": "Attendance {found}% (at least {threshold}% required)",
        "nl": "Aanwezigheid {found}% (minstens {threshold}% vereist)",
        "de": "Anwesenheit {found} % (mindestens {threshold} % erforderlich)",
        "fr": "Présence {found} % (au moins {threshold} % requis)",
    },
    "crit_attendance_none": {
        "en": "Attendance: not recorded yet ({threshold}% required)",
        "nl": "Aanwezigheid: nog niet geregistreerd ({threshold}% vereist)",
        "de": "Anwesenheit: noch nicht erfasst ({threshold} % erforderlich)",
        "fr": "Présence : pas encore enregistrée ({threshold} % requis)",
    },
    "crit_composite": {
        "en": "{found} of {out_of} criteria met ({threshold} required)",
        "nl": "{found} van {out_of} criteria voldaan ({threshold} vereist)",
        "de": "{found} von {out_of} Kriterien erfüllt ({threshold} erforderlich)",
        "fr": "{found} critères sur {out_of} remplis ({threshold} requis)",
    },
    "crit_missing": {
        "en": "not yet known for: {codes}",
        "nl": "nog niet bekend voor: {codes}",
        "de": "noch nicht bekannt für: {codes}",
        "fr": "pas encore connu pour : {codes}",
    },
    # -- PDF certificate
    "pdf_heading": {
        "en": "Certificate of achievement",
        "nl": "Certificaat",
        "de": "Zertifikat",
        "fr": "Certificat de réussite",
    },
    "pdf_certifies": {
        "en": "This certifies that",
        "nl": "Hierbij wordt verklaard dat",
        "de": "Hiermit wird bescheinigt, dass",
        "fr": "Il est certifié que",
    },
    "pdf_has_earned": {
        "en": "has been awarded the micro-credential",
        "nl": "de volgende microcredential heeft behaald",
        "de": "das folgende Microcredential erworben hat",
        "fr": "a obtenu la microcertification",
    },
    "pdf_has_earned_pathway": {
        "en": "has been awarded the stacked credential",
        "nl": "het volgende gestapelde credential heeft behaald",
        "de": "den folgenden gestapelten Nachweis erworben hat",
        "fr": "a obtenu le justificatif cumulé",
    },
    "pdf_scan": {
        "en": "Scan to verify",
        "nl": "Scan om te verifiëren",
        "de": "Zum Prüfen scannen",
        "fr": "Scanner pour vérifier",
    },
    "pdf_verify_at": {
        "en": "Verify this credential at",
        "nl": "Verifieer dit credential op",
        "de": "Diesen Nachweis prüfen unter",
        "fr": "Vérifier ce justificatif sur",
    },
    "pdf_signed_note": {
        "en": "The signed digital credential is the authoritative record; this certificate is a printable copy.",
        "nl": "Het ondertekende digitale credential is het rechtsgeldige bewijs; dit certificaat is een "
        "afdrukbare kopie.",
        "de": "Maßgeblich ist der signierte digitale Nachweis; dieses Zertifikat ist eine druckbare Kopie.",
        "fr": "Le justificatif numérique signé fait foi ; ce certificat en est une copie imprimable.",
    },
    "pdf_status_banner": {
        "en": "{status}: this certificate is no longer valid",
        "nl": "{status}: dit certificaat is niet langer geldig",
        "de": "{status}: Dieses Zertifikat ist nicht mehr gültig",
        "fr": "{status} : ce certificat n'est plus valide",
    },
    "credential_id": {
        "en": "Credential ID",
        "nl": "Credential-ID",
        "de": "Nachweis-ID",
        "fr": "Identifiant du justificatif",
    },
    # -- error pages
    "back_to_backpack": {
        "en": "Back to my backpack",
        "nl": "Terug naar mijn rugzak",
        "de": "Zurück zu meinem Rucksack",
        "fr": "Retour à mon sac à dos",
    },
}


def _date_text(moment: datetime, language: str) -> str:
    month = _MONTHS[language][moment.month - 1]
    day = f"{moment.day}." if language == "de" else str(moment.day)
    return f"{day} {month} {moment.year}"


@dataclass(frozen=True)
class Translator:
    """Messages, dates and numbers in one language (``t`` in the templates)."""

    language: str

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"unsupported language {self.language!r}")

    def __call__(self, key: str, **values: Any) -> str:
        text = MESSAGES[key][self.language]
        return text.format(**values) if values else text

    def date(self, moment: datetime | None) -> str:
        """``12 March 2025`` / ``12 maart 2025`` / ``12. März 2025`` / ``12 mars 2025`` (UTC)."""
        if moment is None:
            return ""
        return _date_text(moment.astimezone(UTC), self.language)

    def datetime(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        utc = moment.astimezone(UTC)
        return f"{_date_text(utc, self.language)}, {utc:%H:%M} UTC"

    def number(self, value: Decimal | int | float | str | None) -> str:
        """``7.5`` in English, ``7,5`` in Dutch, German and French; integral values without decimals."""
        if value is None:
            return ""
        try:
            decimal = value if isinstance(value, Decimal) else Decimal(str(value))
        except InvalidOperation:
            return str(value)
        if not decimal.is_finite():
            return str(value)
        text = format(decimal.normalize(), "f") if decimal != decimal.to_integral_value() else str(int(decimal))
        return text if self.language == "en" else text.replace(".", ",")

    def switcher(self, href_of: Any) -> list[dict[str, Any]]:
        """The language links: ``href_of(code)`` gives each page's URL in that language."""
        return [
            {"code": code, "name": LANGUAGE_NAMES[code], "href": href_of(code), "current": code == self.language}
            for code in LANGUAGES
        ]
