"""What the speakers say, per language: scripted agent lines and free customer turns.

Agents follow a script (greeting, hold, closing) as call-center agents do; customers speak freely,
drawn here from templates with slots (products, numbers, dates) so that turns vary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Lines:
    agent_names: dict[str, tuple[str, ...]]
    companies: tuple[str, ...]
    openings: tuple[str, ...]
    agent_turns: tuple[str, ...]
    customer_first: tuple[str, ...]
    customer_turns: tuple[str, ...]
    products: tuple[str, ...]
    hold: tuple[str, ...]
    back_from_hold: tuple[str, ...]
    closings: tuple[str, ...]
    customer_bye: tuple[str, ...]
    backchannels: tuple[str, ...]


LINES: dict[str, Lines] = {
    "tr": Lines(
        agent_names={
            "female": ("Ayşe", "Elif", "Zeynep", "Merve", "Esra", "Derya"),
            "male": ("Mehmet", "Ahmet", "Emre", "Burak", "Murat", "Can"),
        },
        companies=("Anadolu Telekom", "Yıldız Sigorta", "Deniz Bank", "Kuzey Enerji"),
        openings=(
            "{company}, iyi günler, ben {name}. Size nasıl yardımcı olabilirim?",
            "{company} müşteri hizmetlerine hoş geldiniz, ben {name}, nasıl yardımcı olabilirim?",
            "Merhaba, {company}, ben {name}. Görüşmemiz kalite amaçlı kaydedilmektedir.",
        ),
        agent_turns=(
            "Anlıyorum, hemen kontrol ediyorum.",
            "Bilgileriniz için teşekkür ederim, kaydınızı görüyorum.",
            "Bu konuda size yardımcı olabilirim, {product} için yeni bir talep oluşturuyorum.",
            "Sistemde {number} numaralı kaydınız görünüyor. Tarihi {date} olarak güncelledim.",
            "Maalesef bu işlem için biraz beklemeniz gerekiyor, ancak süreci hızlandıracağım.",
            "Tabii ki, ödemeniz {amount} lira olarak görünüyor.",
            "Doğum tarihinizi ve adınızı teyit edebilir misiniz lütfen?",
        ),
        customer_first=(
            "Merhaba, {product} ile ilgili bir sorunum var.",
            "İyi günler, faturamda bir hata olduğunu düşünüyorum.",
            "Merhaba, geçen hafta bir başvuru yaptım ama hala cevap alamadım.",
        ),
        customer_turns=(
            "Evet, numaram {number}.",
            "Aslında {date} tarihinde aradım ama kimse geri dönmedi.",
            "Faturada {amount} lira yazıyor, bu çok fazla.",
            "Tamam, peki ne kadar sürer?",
            "Adım Ali Yılmaz, doğum tarihim {date}.",
            "{product} iki gündür çalışmıyor, internet de çok yavaş.",
            "Anladım, yani tekrar aramam gerekmiyor, değil mi?",
            "Bu gerçekten üçüncü kez oluyor, çok memnun değilim.",
        ),
        products=("modem", "kredi kartım", "mobil hattım", "sigorta poliçem", "elektrik faturam"),
        hold=("Sizi kısa bir süre beklemeye alıyorum, lütfen hattan ayrılmayın.",),
        back_from_hold=("Beklediğiniz için teşekkür ederim.",),
        closings=(
            "Başka yardımcı olabileceğim bir konu var mı? İyi günler dilerim.",
            "{company}'yi aradığınız için teşekkür ederiz, iyi günler.",
        ),
        customer_bye=("Yok, teşekkürler, iyi günler.", "Teşekkür ederim, hoşçakalın."),
        backchannels=("evet", "tamam", "hı hı", "anladım", "peki"),
    ),
    "de": Lines(
        agent_names={
            "female": ("Anna", "Julia", "Sabine", "Katrin", "Laura", "Petra"),
            "male": ("Thomas", "Michael", "Stefan", "Jan", "Lukas", "Markus"),
        },
        companies=("Nordstrom Energie", "Rhein Versicherung", "Alpen Telekom", "Hansa Bank"),
        openings=(
            "{company}, guten Tag, mein Name ist {name}. Was kann ich für Sie tun?",
            "Willkommen beim Kundenservice von {company}, Sie sprechen mit {name}.",
            "Guten Tag, {company}, {name} am Apparat. Wie kann ich Ihnen helfen?",
        ),
        agent_turns=(
            "Ich verstehe, ich schaue sofort nach.",
            "Vielen Dank, ich sehe Ihren Vorgang jetzt im System.",
            "Für {product} lege ich Ihnen gerne eine neue Anfrage an.",
            "Ihre Vorgangsnummer ist {number}. Ich habe den Termin auf den {date} gelegt.",
            "Leider dauert das etwas, aber ich kümmere mich persönlich darum.",
            "Der offene Betrag beträgt {amount} Euro.",
            "Können Sie mir bitte Ihr Geburtsdatum bestätigen?",
        ),
        customer_first=(
            "Guten Tag, ich habe ein Problem mit {product}.",
            "Hallo, ich glaube, meine letzte Rechnung ist falsch.",
            "Ja, hallo, ich habe letzte Woche etwas beantragt und nie eine Antwort bekommen.",
        ),
        customer_turns=(
            "Ja, meine Kundennummer ist {number}.",
            "Ich habe schon am {date} angerufen, aber niemand hat sich gemeldet.",
            "Auf der Rechnung stehen {amount} Euro, das ist viel zu hoch.",
            "Gut, und wie lange dauert das ungefähr?",
            "Mein Name ist Klaus Becker, geboren am {date}.",
            "{product} funktioniert seit zwei Tagen nicht mehr.",
            "Also muss ich nicht noch einmal anrufen, oder?",
            "Das ist jetzt schon das dritte Mal, ich bin wirklich nicht zufrieden.",
        ),
        products=("mein Router", "meine Kreditkarte", "mein Handyvertrag", "meine Police"),
        hold=("Ich stelle Sie kurz in die Warteschleife, bitte bleiben Sie dran.",),
        back_from_hold=("Vielen Dank für Ihre Geduld.",),
        closings=(
            "Kann ich sonst noch etwas für Sie tun? Einen schönen Tag noch.",
            "Vielen Dank für Ihren Anruf bei {company}, auf Wiederhören.",
        ),
        customer_bye=("Nein, danke, auf Wiederhören.", "Danke schön, tschüss."),
        backchannels=("ja", "genau", "mhm", "okay", "ach so"),
    ),
    "en": Lines(
        agent_names={
            "female": ("Sarah", "Emily", "Kate", "Linda", "Rachel", "Megan"),
            "male": ("John", "David", "Mark", "Chris", "Steven", "Paul"),
        },
        companies=("Northwind Energy", "Bluebird Insurance", "Summit Telecom", "Harbor Bank"),
        openings=(
            "Thank you for calling {company}, my name is {name}. How can I help you today?",
            "{company} customer service, this is {name} speaking. How may I help you?",
            "Good morning, {company}, {name} here. This call may be recorded for quality.",
        ),
        agent_turns=(
            "I understand, let me check that for you right away.",
            "Thank you, I can see your account on my screen now.",
            "I can help you with that, I am opening a new request for {product}.",
            "Your reference number is {number}. I have moved the appointment to {date}.",
            "Unfortunately this takes a little while, but I will follow it up myself.",
            "The outstanding balance is {amount} dollars.",
            "Could you please confirm your date of birth for me?",
        ),
        customer_first=(
            "Hi, I have a problem with {product}.",
            "Hello, I think there is a mistake on my last bill.",
            "Yes, hello, I applied for something last week and never heard back.",
        ),
        customer_turns=(
            "Yes, my account number is {number}.",
            "I already called on {date} but nobody called me back.",
            "The bill says {amount} dollars, that is far too much.",
            "Okay, and how long will that take?",
            "My name is Robert Miller, born on {date}.",
            "{product} has not been working for two days now.",
            "So I do not need to call again, right?",
            "This is the third time this has happened, I am really not happy.",
        ),
        products=("my router", "my credit card", "my phone plan", "my insurance policy"),
        hold=("I am going to place you on a brief hold, please stay on the line.",),
        back_from_hold=("Thank you for holding.",),
        closings=(
            "Is there anything else I can help you with? Have a nice day.",
            "Thank you for calling {company}, goodbye.",
        ),
        customer_bye=("No, that is all, thank you. Bye.", "Thanks a lot, goodbye."),
        backchannels=("okay", "yes", "uh huh", "right", "I see"),
    ),
}

_MONTHS = {
    "tr": ("Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Eylül"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "September"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "September"),
}


def fill(template: str, language: str, rng: np.random.Generator, **known: str) -> str:
    """Fill a template's slots with values drawn from ``rng``."""
    lines = LINES[language]
    day = int(rng.integers(1, 29))
    month = _MONTHS[language][int(rng.integers(len(_MONTHS[language])))]
    date = f"{month} {day}" if language == "en" else f"{day} {month}"
    values = {
        "product": lines.products[int(rng.integers(len(lines.products)))],
        "number": " ".join(str(int(d)) for d in rng.integers(0, 10, size=6)),
        "date": date,
        "amount": str(int(rng.integers(20, 900))),
        **known,
    }
    return template.format(**values)


def pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]
