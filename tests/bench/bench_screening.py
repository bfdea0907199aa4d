"""How fast and how well sanctions screening works: names/s, recall and false positives.

    python tests/bench/bench_screening.py [--entries 30000] [--queries 3000] [--seed 7]

Builds a synthetic list of realistic size (people and organisations from several cultures,
with aliases in other spellings and scripts), and a labelled set of queries: true variants
of list entries, and near-miss or unrelated names that are not on the list. Prints the build
time, the screening speed, and recall / false-positive rate at several thresholds. No
database, no network. See tests/bench/README.md.
"""

# ruff: noqa: RUF001, RUF003, SIM905 -- name pools in Cyrillic, kept as readable space-separated strings.
from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from _support import machine_lines

from gateway.screening import DEFAULT_THRESHOLD, ListEntry, Match, Screener, Subject
from gateway.screening.normalise import LEGAL_FORMS, normalise

# --- name material ----------------------------------------------------------------------------------

RU_MALE = (
    "Александр Алексей Андрей Антон Артём Борис Вадим Валерий Василий Виктор Виталий Владимир "
    "Владислав Вячеслав Геннадий Георгий Григорий Денис Дмитрий Евгений Егор Иван Игорь Илья Кирилл "
    "Константин Леонид Максим Михаил Никита Николай Олег Павел Пётр Роман Руслан Сергей Станислав "
    "Степан Тимур Фёдор Юрий Яков Анатолий Аркадий Эдуард"
).split()
RU_FEMALE = (
    "Анна Анастасия Валентина Вера Галина Дарья Екатерина Елена Ирина Ксения Людмила Марина Мария "
    "Наталья Нина Ольга Светлана Татьяна Юлия Алла Евгения Лариса Полина Яна"
).split()
RU_PATRONYMIC = (
    "Александрович Алексеевич Андреевич Борисович Викторович Владимирович Васильевич Геннадьевич "
    "Григорьевич Дмитриевич Евгеньевич Иванович Игоревич Константинович Леонидович Михайлович "
    "Николаевич Олегович Павлович Петрович Сергеевич Степанович Юрьевич Фёдорович Анатольевич "
    "Валерьевич Вячеславович Романович Аркадьевич Эдуардович"
).split()
RU_SURNAME = (
    "Иванов Петров Сидоренко Смирнов Кузнецов Попов Васильев Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров "
    "Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин "
    "Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов Поляков Сорокин Виноградов "
    "Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов Комаров Давыдов Беляев Герасимов "
    "Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов Карпов Власов Мельников "
    "Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов "
    "Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов Родионов "
    "Коновалов Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов "
    "Журавлёв Овчинников Трофимов Леонов Соболев Ермаков Колесников Гончаров Емельянов Никифоров "
    "Грачёв Котов Гришин Ефремов Архипов Громов Кириллов Малышев Панов Моисеев Румянцев Акимов "
    "Шевченко Бондаренко Коваленко Кравченко Ткаченко Литвиненко Петренко Марченко Гайдученко "
    "Рыбаков Сафонов Плотников Хохлов Фадеев Молчанов Игнатов Литвинов Ершов Ушаков Рябов Мухин"
).split()
RU_ORG_CORE = (
    "Альфа Восток Сибирь Урал Вектор Гранит Орион Титан Спектр Меридиан Прогресс Импульс Технопром "
    "Энергомаш Стройинвест Агропром Нефтегаз Транзит Атлант Полюс Кристалл Феникс Сигма Дельта "
    "Арктика Байкал Волга Амур Енисей Кедр Север Магистраль Балтика Ресурс Горизонт"
).split()
RU_ORG_KIND = "Трейд Логистик Инжиниринг Холдинг Групп Сервис Техно Импорт Снаб Металл".split()
RU_ORG_FORM = ("ООО", "АО", "ПАО", "ЗАО")

# Transliterations of Cyrillic: OFAC's (BGN/PCGN-like), the passport standard (ICAO 9303) and a
# popular one; the list, the customer and a second list each pick their own.
_COMMON = dict(
    zip(
        "абвгдзиклмнопрстуфчшщъыьэ",
        "a b v g d z i k l m n o p r s t u f ch sh shch _ y _ e".split(),
        strict=True,
    )
)
TRANSLIT = {
    "ofac": {**_COMMON, "е": "e", "ё": "e", "ж": "zh", "й": "y", "х": "kh", "ц": "ts", "ю": "yu", "я": "ya"},
    "icao": {
        **_COMMON,
        "е": "e",
        "ё": "e",
        "ж": "zh",
        "й": "i",
        "х": "kh",
        "ц": "ts",
        "ю": "iu",
        "я": "ia",
        "ъ": "ie",
    },
    "popular": {
        **_COMMON,
        "е": "e",
        "ё": "yo",
        "ж": "j",
        "й": "i",
        "х": "h",
        "ц": "tz",
        "ю": "yu",
        "я": "ya",
    },
}


def translit(cyrillic: str, system: str) -> str:
    table = TRANSLIT[system]
    out = []
    for i, ch in enumerate(cyrillic):
        low = ch.lower()
        latin = table.get(low)
        if latin is None:
            out.append(ch)
            continue
        latin = "" if latin == "_" else latin
        # BGN/PCGN writes "ye" for е at the start of a word ("Yevgeniy", "Yelena").
        if system == "ofac" and low == "е" and (i == 0 or not cyrillic[i - 1].isalpha()):
            latin = "ye"
        out.append(latin.capitalize() if ch.isupper() else latin)
    return "".join(out)


ZH_SURNAME = dict(
    zip(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗",
        "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo".split(),
        strict=True,
    )
)
ZH_GIVEN = dict(
    zip(
        "伟明建华国丽红军平小勇芳磊涛斌海龙强燕杰新文志刚",
        "Wei Ming Jian Hua Guo Li Hong Jun Ping Xiao Yong Fang Lei Tao Bin Hai Long Qiang Yan Jie Xin Wen Zhi Gang".split(),
        strict=True,
    )
)
ZH_CITY = {
    "深圳": "Shenzhen",
    "广州": "Guangzhou",
    "上海": "Shanghai",
    "北京": "Beijing",
    "天津": "Tianjin",
    "宁波": "Ningbo",
    "大连": "Dalian",
    "青岛": "Qingdao",
}
ZH_CORE = {
    "金龙": "Jinlong",
    "华星": "Huaxing",
    "东方": "Dongfang",
    "海天": "Haitian",
    "天宇": "Tianyu",
    "中恒": "Zhongheng",
    "新华": "Xinhua",
    "宏达": "Hongda",
    "永盛": "Yongsheng",
    "富源": "Fuyuan",
    "鑫源": "Xinyuan",
    "恒信": "Hengxin",
    "长城": "Changcheng",
    "星辰": "Xingchen",
    "瑞丰": "Ruifeng",
    "汇通": "Huitong",
    "安达": "Anda",
    "佳美": "Jiamei",
    "盛世": "Shengshi",
    "蓝灯": "Landeng",
}
ZH_TRADE = {
    "贸易": "Trading",
    "科技": "Technology",
    "电子": "Electronics",
    "物流": "Logistics",
    "进出口": "Import and Export",
    "化工": "Chemical",
    "机械": "Machinery",
    "航运": "Shipping",
}

AR_FIRST = [
    ("Mohammed", "Muhammad", "Mohamed", "Mohammad"),
    ("Ahmed", "Ahmad"),
    ("Ali",),
    ("Hassan", "Hasan"),
    ("Hussein", "Husain", "Hussain"),
    ("Omar", "Umar"),
    ("Khalid", "Khaled"),
    ("Youssef", "Yusuf", "Yousef"),
    ("Ibrahim", "Ebrahim"),
    ("Abdullah", "Abdallah"),
    ("Mahmoud", "Mahmud"),
    ("Mustafa", "Mostafa"),
    ("Tariq", "Tarek", "Tareq"),
    ("Faisal", "Faysal"),
    ("Samir", "Sameer"),
    ("Walid", "Waleed"),
    ("Nabil", "Nabeel"),
    ("Karim", "Kareem"),
    ("Rashid", "Rashed"),
    ("Hamza", "Hamzah"),
    ("Salim", "Saleem"),
    ("Jamal", "Gamal"),
    ("Farid", "Fareed"),
    ("Adel", "Adil"),
    ("Bilal",),
    ("Ziad", "Ziyad"),
    ("Osama", "Usama"),
    ("Majid", "Majed"),
    ("Nasser", "Nasir", "Naser"),
    ("Imad", "Emad"),
    ("Fadi",),
    ("Hani", "Hany"),
    ("Raed", "Ra'id"),
]
AR_FAMILY = [
    ("Al-Rashid", "Al Rashid", "Alrashid"),
    ("Al-Nouri", "Al-Nuri", "Alnouri"),
    ("Haddad",),
    ("Khoury", "Khouri"),
    ("Mansour", "Mansur"),
    ("Nasser", "Nasir"),
    ("Saleh", "Salih"),
    ("Hamdan",),
    ("Al-Tamimi", "Al Tamimi", "Tamimi"),
    ("Qasim", "Kassem", "Qassem"),
    ("Jaber", "Jabir"),
    ("Barakat",),
    ("Al-Masri", "Al Masri", "Almasri"),
    ("Darwish", "Darwich"),
    ("Al-Hakim", "Al Hakeem"),
    ("Shami", "Al-Shami"),
    ("Al-Zahrani", "Al Zahrani"),
    ("Aziz", "Abdel Aziz"),
    ("Suleiman", "Sulaiman", "Soliman"),
    ("Yassin", "Yasin"),
    ("Al-Obeidi", "Al Ubaydi"),
    ("Khalil", "Khaleel"),
    ("Issa", "Eissa"),
    ("Awad", "Awwad"),
    ("Fakhoury", "Fakhouri"),
    ("Al-Shehri", "Al Shihri"),
    ("Bakr", "Bakir"),
    ("Zaidan", "Zeidan"),
    ("Al-Amri", "Al Amri"),
    ("Hijazi", "Hejazi"),
    ("Kanaan", "Canaan"),
]
ES_FIRST = "José Juan Carlos Luis Jorge Miguel Pedro Rafael Andrés Fernando Ricardo Manuel Alejandro Diego Eduardo María Ana Carmen Rosa Elena Isabel Lucía Sofía Patricia Gabriela".split()
ES_SURNAME = "García López Martínez González Rodríguez Pérez Sánchez Ramírez Torres Flores Rivera Gómez Díaz Cruz Morales Ortiz Gutiérrez Chávez Ramos Vargas Castillo Jiménez Moreno Romero Herrera Medina Aguilar Mendoza Rojas Vásquez Castro Suárez Delgado Ríos Navarro Cabrera Méndez Guzmán Salazar Peña".split()
EN_FIRST = "James John Robert Michael William David Richard Thomas Charles Daniel Paul Mark George Steven Andrew Peter Mary Susan Linda Karen Sarah Emma Laura Helen Claire".split()
EN_SURNAME = "Smith Johnson Williams Brown Taylor Wilson Evans Walker Wright Thompson White Hughes Edwards Green Hall Wood Harris Lewis Martin Jackson Clarke Clark Turner Hill Scott Cooper Morris Ward Moore King Watson Baker Harrison Morgan Patel Young Allen Mitchell Pruitt Becker Müller Schmidt Schneider Fischer Weber Wagner Hoffmann Dubois Laurent Moreau".split()
KO_SURNAME = ("Kim", "Ri", "Pak", "Choe", "Jong", "Kang", "Han", "Ryu", "Jo", "Yun")
KO_SYLLABLE = (
    "Song Ho Chol Il Jong Nam Yong Su Hyok Myong Chun Gwang Hak Sung Min Jin Dok Man Won Guk Bok Ung".split()
)
FA_FIRST = "Reza Ali Hossein Mehdi Mohsen Hamid Saeed Majid Behrouz Farhad Kourosh Dariush Babak Ramin Arash Nasrin Maryam Shirin".split()
FA_SURNAME = "Ahmadi Hosseini Rezaei Mohammadi Karimi Moradi Jafari Sadeghi Rahimi Hashemi Ghorbani Mousavi Kazemi Shirazi Tehrani Esfahani Najafi Bagheri Salehi Zamani".split()
TR_FIRST = (
    "Mehmet Mustafa Ahmet Ali Hüseyin Hasan İbrahim Murat Osman Yusuf Emre Burak Çağlar Şükrü Gökhan".split()
)
TR_SURNAME = "Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç Aslan Çetin Koç Kurt Özkan Şimşek Polat".split()

# Procedural surnames, so that the pools are closer to a real list's variety (tens of thousands of
# distinct words): with a few dozen surnames, every random name would have a namesake on the list.
EN_FIRST += "Adam Alan Brian Carl Colin Dennis Edward Frank Gary Henry Ian Jack Keith Kevin Neil Oliver Philip Ralph Roger Simon Stuart Tony Alice Anne Carol Diane Fiona Grace Jane Julia Kate Lucy Nancy Olivia Rachel Ruth Sophie Wendy".split()
EN_SURNAME += [
    root + suffix
    for root in "Ash Black Brad Brook Cald Cran Dun Elm Fair Fern Glen Hart Hawk Holl Kings Lang Mar Mid Nor Oak Pen Rad Red Ross Rye Sand Shel Stan Stock Thorn Wake Walt Wes Whit Wind Cro Ed Hal Lind Pem".split()
    for suffix in "ford well by ton ley wood worth field more land ham bury son ridge".split()
]
RU_SURNAME += [
    root + suffix
    for root in "Бел Бог Вол Гор Дуб Жук Зим Кам Кед Кол Кос Крас Лес Лип Мал Мед Мор Нов Пес Рыж Сел Сок Стар Тих Хол Чер Шир Яр Бар Вер Глад Дол Жар Зор Клим Лук Мир Нос Пол Рад Сав Тар Фил Хар Цвет Шуб Щег".split()
    for suffix in ("ов", "ин", "ский", "енко", "ых")
]
AR_FAMILY += [
    (f"Al-{root}", f"Al {root}", root)
    for root in "Ahmadi Amin Ansari Asaad Ayoub Badawi Bakri Baroudi Bitar Dabbagh Dajani Fares Farouk Ghanem Habib Halabi Hamad Harb Hilal Homsi Jabri Jarrah Kabbani Karam Khatib Labban Maalouf Makki Masood Mousa Najjar Nassar Othman Qadri Rahal Sabbagh Sadiq Safadi Sayegh Shaheen Sharif Tahan Zein".split()
]
FA_SURNAME += [
    root + suffix
    for root in "Abbas Akbar Amir Asgar Bahram Davood Farhad Ghasem Hadi Hamid Jalal Kamal Karim Latif Mahmoud Parviz Rasoul Saeed Taher Yousef Zand Kia Nouri Rostam".split()
    for suffix in ("i", "zadeh", "pour", "nejad")
]
TR_SURNAME += [
    root + suffix
    for root in "Ak Kara Demir Öz Yıl Şen Tek Bal Er Gül Kar Tan Uç Ay Bay Can Eren Kurt Sarı Taş".split()
    for suffix in ("oğlu", "er", "can", "türk")
]
ES_SURNAME += "Acosta Alvarado Arias Ávila Benítez Bravo Calderón Campos Cárdenas Carrillo Cortés Contreras Domínguez Espinoza Estrada Figueroa Fuentes Galindo Guerrero Ibarra Juárez Lara León Lozano Luna Maldonado Marín Mejía Miranda Molina Montoya Núñez Ochoa Orozco Pacheco Padilla Palacios Paredes Quintero Rosales Sandoval Serrano Solís Soto Trujillo Valdez Valencia Vega Velázquez Zamora".split()


ORG_ADJ = "Blue Golden Silver Northern Eastern Western Crescent Polar Red Green Ocean Pacific Atlas Orion Phoenix Dragon Lotus Summit Pioneer Horizon Delta Sigma Apex Zenith Coral Amber Emerald Royal Grand Global United Star Bright Swift Iron Crystal".split()
ORG_NOUN = "Lantern Star Bridge River Mountain Harbor Wind Falcon Eagle Tiger Crane Pearl Gate Peak Valley Stone Sun Moon Wave Forest Anchor Compass Arrow Shield Tower Light Vista Crest Ridge Bay".split()
ORG_TRADE = "Trading Logistics Shipping Industries Technology Electronics Petrochemical Engineering Machinery Investment Holdings Energy Metals Chemical Aviation Maritime Mining Construction Supply Solutions".split()
ORG_FORMS = (
    "Co., Ltd.",
    "LLC",
    "Limited",
    "Ltd",
    "GmbH",
    "S.A.",
    "FZE",
    "JSC",
    "Company",
    "Inc.",
    "Corporation",
    "LLP",
)
ORG_PLACE = (
    "Dubai Tehran Minsk Caracas Istanbul Singapore Hamburg Limassol Panama Sharjah Almaty Tashkent".split()
)
ME_CORE = "Al-Noor Al-Amal Al-Fajr Pars Kavian Sepehr Arya Tadbir Behran Shahid Al-Rawda Al-Bayan Al-Hilal Zagros Alborz Kish Qeshm Karun".split()

CULTURE_COUNTRIES = {
    "ru": ("RU", "RU", "RU", "BY", "UA", "KZ"),
    "zh": ("CN", "CN", "CN", "HK"),
    "ar": ("SY", "IQ", "LB", "AE", "SA", "YE", "JO"),
    "es": ("VE", "CU", "MX", "CO", "NI"),
    "en": ("GB", "US", "DE", "CY", "CA"),
    "ko": ("KP",),
    "fa": ("IR",),
    "tr": ("TR",),
}
ALL_COUNTRIES = sorted(
    {c for cs in CULTURE_COUNTRIES.values() for c in cs} | {"FR", "IT", "BR", "IN", "JP", "PK"}
)


# --- the synthetic list --------------------------------------------------------------------------------


@dataclass
class Party:
    """What the generator knows about a list entry, beyond the entry: its parts, to make variants."""

    culture: str
    kind: str
    parts: dict[str, str] = field(default_factory=dict)


class Names:
    """Names, their native-script forms and spelling variants, from the pools above."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self, culture: str) -> tuple[str, list[str], dict[str, str]]:
        """(primary, aliases, parts)."""
        r = self.rng
        if culture == "ru":
            female = r.random() < 0.25
            first = r.choice(RU_FEMALE if female else RU_MALE)
            patronymic = r.choice(RU_PATRONYMIC)
            surname = r.choice(RU_SURNAME)
            if female:
                patronymic = patronymic[:-4] + ("овна" if patronymic.endswith("ович") else "евна")
                if surname[-2:] in ("ов", "ев", "ин", "ёв"):
                    surname += "а"
            cyrillic = f"{first} {patronymic} {surname}"
            primary = translit(cyrillic, "ofac")
            aliases = []
            if r.random() < 0.5:
                aliases.append(cyrillic)
            if r.random() < 0.6:
                aliases.append(translit(f"{first} {surname}", r.choice(("icao", "popular"))))
            return primary, aliases, {"cyrillic": cyrillic}
        if culture == "zh":
            surname = r.choice(list(ZH_SURNAME))
            given = "".join(r.sample(list(ZH_GIVEN), r.choice((1, 2, 2, 2))))
            latin_given = "".join(ZH_GIVEN[c] for c in given)
            latin_given = latin_given[:1] + latin_given[1:].lower()
            primary = f"{ZH_SURNAME[surname]} {latin_given}"
            aliases = [surname + given] if r.random() < 0.7 else []
            if r.random() < 0.4:
                aliases.append(f"{ZH_SURNAME[surname]} " + " ".join(ZH_GIVEN[c] for c in given))
            return primary, aliases, {"han": surname + given}
        if culture == "ar":
            first, father, family = r.choice(AR_FIRST), r.choice(AR_FIRST), r.choice(AR_FAMILY)
            primary = f"{first[0]} {father[0]} {family[0]}"
            aliases = []
            if r.random() < 0.7:
                aliases.append(f"{r.choice(first)} {r.choice(father)} {r.choice(family)}")
            if r.random() < 0.5:
                aliases.append(f"{r.choice(first)} {r.choice(family)}")
            return primary, aliases, {}
        if culture == "es":
            first = r.choice(ES_FIRST) + (f" {r.choice(ES_FIRST)}" if r.random() < 0.3 else "")
            primary = f"{first} {r.choice(ES_SURNAME)} {r.choice(ES_SURNAME)}"
            aliases = [strip_accents(primary)] if r.random() < 0.5 else []
            if r.random() < 0.5:
                aliases.append(" ".join(primary.split()[:-1]))
            return primary, aliases, {}
        if culture == "en":
            middle = f" {r.choice(EN_FIRST)}" if r.random() < 0.4 else ""
            primary = f"{r.choice(EN_FIRST)}{middle} {r.choice(EN_SURNAME)}"
            aliases = (
                [f"{primary.split()[0]} {primary.split()[1][0]}. {primary.split()[-1]}"]
                if middle and r.random() < 0.5
                else []
            )
            return primary, aliases, {}
        if culture == "ko":
            given = r.sample(KO_SYLLABLE, 2)
            surname = r.choice(KO_SURNAME)
            primary = f"{surname} {given[0]} {given[1]}"
            aliases = [f"{surname} {given[0]}-{given[1].lower()}"] if r.random() < 0.6 else []
            return primary, aliases, {}
        if culture == "fa":
            primary = f"{r.choice(FA_FIRST)} {r.choice(FA_SURNAME)}"
            return primary, [], {}
        primary = f"{r.choice(TR_FIRST)} {r.choice(TR_SURNAME)}"
        return primary, [strip_accents(primary)] if r.random() < 0.5 else [], {}

    def organisation(self, culture: str) -> tuple[str, list[str], dict[str, str]]:
        r = self.rng
        if culture == "ru":
            core, trade, form = r.choice(RU_ORG_CORE), r.choice(RU_ORG_KIND), r.choice(RU_ORG_FORM)
            cyrillic = f"{form} «{core} {trade}»"
            primary = translit(f"{form} {core} {trade}", "ofac").upper()
            aliases = [cyrillic] if r.random() < 0.6 else []
            if r.random() < 0.4:
                aliases.append(translit(f"{core} {trade}", "popular"))
            return primary, aliases, {"cyrillic": cyrillic}
        if culture == "zh":
            city, core, trade = r.choice(list(ZH_CITY)), r.choice(list(ZH_CORE)), r.choice(list(ZH_TRADE))
            primary = f"{ZH_CITY[city]} {ZH_CORE[core]} {ZH_TRADE[trade]} Co., Ltd."
            han = f"{city}{core}{trade}有限公司"
            aliases = [han] if r.random() < 0.7 else []
            if r.random() < 0.4:
                aliases.append(f"{ZH_CORE[core]} {ZH_TRADE[trade]}")
            return primary, aliases, {"han": han}
        if culture in ("ar", "fa"):
            primary = f"{r.choice(ME_CORE)} {r.choice(ORG_TRADE)} {r.choice(('Company', 'Co.', 'LLC', 'FZE', 'Group'))}"
            return primary, [drop_legal(primary)] if r.random() < 0.4 else [], {}
        place = f"{r.choice(ORG_PLACE)} " if r.random() < 0.25 else ""
        primary = (
            f"{place}{r.choice(ORG_ADJ)} {r.choice(ORG_NOUN)} {r.choice(ORG_TRADE)} {r.choice(ORG_FORMS)}"
        )
        aliases = [drop_legal(primary)] if r.random() < 0.5 else []
        if r.random() < 0.2:
            aliases.append("".join(w[0] for w in drop_legal(primary).split()).upper())
        return primary, aliases, {}


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text).replace("ı", "i")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def drop_legal(name: str) -> str:
    return " ".join(w for w in name.split() if w.lower().replace(".", "").strip(",") not in LEGAL_FORMS)


CULTURES = ("ru", "ru", "zh", "ar", "ar", "es", "en", "en", "ko", "fa", "tr")


def build_list(rng: random.Random, size: int) -> tuple[list[ListEntry], list[Party]]:
    names = Names(rng)
    entries: list[ListEntry] = []
    parties: list[Party] = []
    for i in range(size):
        culture = rng.choice(CULTURES)
        kind = "person" if rng.random() < 0.6 else "organisation"
        if kind == "person":
            primary, aliases, parts = names.person(culture)
        else:
            primary, aliases, parts = names.organisation(culture)
        countries = (rng.choice(CULTURE_COUNTRIES[culture]),) if rng.random() < 0.9 else ()
        births = (random_date(rng),) if kind == "person" and rng.random() < 0.8 else ()
        entries.append(
            ListEntry(
                source="bench",
                entry_id=str(i),
                kind="person" if kind == "person" else "organisation",
                name=primary,
                aliases=tuple(dict.fromkeys(a for a in aliases if a and a != primary)),
                countries=countries,
                birth_dates=births,
            )
        )
        parties.append(Party(culture, kind, parts))
    return entries, parties


def random_date(rng: random.Random, low: int = 1940, high: int = 2000) -> str:
    return f"{rng.randint(low, high)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


# --- queries ---------------------------------------------------------------------------------------------


@dataclass
class Query:
    subject: Subject
    category: str  # what was changed ("misspelt + reordered"), or what kind of negative
    target: int | None  # the entry it should find; None for a negative


def typo(rng: random.Random, name: str) -> str:
    words = name.split()
    long = [i for i, w in enumerate(words) if len(w) >= 5]
    if not long:
        return name
    i = rng.choice(long)
    w = words[i]
    k = rng.randrange(1, len(w) - 1)
    op = rng.choice(("swap", "drop", "insert", "replace"))
    letters = "aeioulnrstmkdhy"
    if op == "swap":
        w = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
    elif op == "drop":
        w = w[:k] + w[k + 1 :]
    elif op == "insert":
        w = w[:k] + rng.choice(letters) + w[k:]
    else:
        w = w[:k] + rng.choice([c for c in letters if c != w[k].lower()]) + w[k + 1 :]
    words[i] = w
    return " ".join(words)


def positive(rng: random.Random, index: int, entry: ListEntry, party: Party) -> Query:
    """A true variant of ``entry``: the kind of difference between a customer's form and the list."""
    name = entry.name
    ops: list[tuple[str, Callable[[str], str]]] = [("misspelt", lambda n: typo(rng, n))]
    words = name.split()
    if party.kind == "person":
        if len(words) >= 3:
            ops.append(("middle name dropped", lambda n: " ".join(n.split()[:1] + n.split()[2:])))
        else:
            pool = {"ru": RU_PATRONYMIC, "es": ES_SURNAME, "en": EN_FIRST}.get(party.culture, EN_FIRST)
            extra = translit(rng.choice(pool), "ofac") if party.culture == "ru" else rng.choice(pool)
            ops.append(("middle name added", lambda n: " ".join([n.split()[0], extra, *n.split()[1:]])))
        ops.append(("reordered", lambda n: " ".join(n.split()[-1:] + n.split()[:-1])))
        if party.culture == "ru":
            cyr = party.parts["cyrillic"]
            ops.append(("into Cyrillic", lambda n: " ".join(cyr.split()[::2]) if rng.random() < 0.5 else cyr))
            ops.append(("other transliteration", lambda n: translit(cyr, rng.choice(("icao", "popular")))))
        if party.culture == "zh":
            ops.append(
                ("given name split", lambda n: " ".join(w for word in n.split() for w in split_pinyin(word)))
            )
            ops.append(("Chinese characters", lambda n: party.parts["han"]))
        if party.culture == "ar":
            ops.append(("other spelling", lambda n: respell_arabic(rng, n)))
        if party.culture in ("es", "tr"):
            ops.append(("accents dropped", strip_accents))
    else:
        ops.append(("legal form changed", lambda n: change_legal(rng, n)))
        if len(drop_legal(name).split()) >= 2:
            ops.append(("written compact", lambda n: compact(rng, n)))
        if party.culture == "ru":
            ops.append(("into Cyrillic", lambda n: party.parts["cyrillic"].replace("«", "").replace("»", "")))
        if party.culture == "zh":
            ops.append(("Chinese characters", lambda n: party.parts["han"].replace("有限公司", "")))
    chosen = rng.sample(ops, k=min(len(ops), rng.choice((1, 1, 2))))
    for _, op in chosen:
        name = op(name)
    birth = None
    if entry.birth_dates and rng.random() < 0.7:
        birth = entry.birth_dates[0] if rng.random() < 0.7 else entry.birth_dates[0][:4]
    roll = rng.random()
    # Some customers give the country they live in, not the one the list knows them by.
    countries = entry.countries if roll < 0.55 else other_country(rng, entry.countries) if roll < 0.65 else ()
    subject = Subject(
        name=name,
        kind="person" if party.kind == "person" else "organisation",
        countries=countries,
        birth_date=birth,
    )
    return Query(subject, " + ".join(sorted(label for label, _ in chosen)), index)


def split_pinyin(given: str) -> list[str]:
    """ "Weiming" -> ["Wei", "Ming"]; a word that is not pinyin syllables comes back whole."""
    syllables = sorted({v.lower() for v in ZH_GIVEN.values()}, key=len, reverse=True)
    out, rest = [], given.lower()
    while rest:
        for s in syllables:
            if rest.startswith(s):
                out.append(s.capitalize())
                rest = rest[len(s) :]
                break
        else:
            return [given]
    return out


def respell_arabic(rng: random.Random, name: str) -> str:
    variants = {v: group for group in (*AR_FIRST, *AR_FAMILY) for v in group}
    words, out, i = name.split(), [], 0
    while i < len(words):
        two = " ".join(words[i : i + 2])
        if two in variants:
            out.append(rng.choice(variants[two]))
            i += 2
        else:
            out.append(rng.choice(variants.get(words[i], (words[i],))))
            i += 1
    return " ".join(out)


def change_legal(rng: random.Random, name: str) -> str:
    bare = drop_legal(name)
    return bare if rng.random() < 0.3 else f"{bare} {rng.choice(ORG_FORMS)}"


def compact(rng: random.Random, name: str) -> str:
    words = drop_legal(name).split()
    if len(words) < 2:
        return name
    k = rng.randrange(len(words) - 1)
    return " ".join([*words[:k], words[k] + words[k + 1].lower(), *words[k + 2 :]])


def other_year(rng: random.Random, birth: str | None) -> str:
    year = int(birth[:4]) if birth else rng.randint(1940, 2000)
    shifted = year + rng.choice((-1, 1)) * rng.randint(3, 25)
    if not 1930 <= shifted <= 2005:
        shifted = 2 * year - shifted
    return f"{shifted}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def other_country(rng: random.Random, countries: Sequence[str]) -> tuple[str, ...]:
    return (rng.choice([c for c in ALL_COUNTRIES if c not in countries]),)


class NegativeMaker:
    """Names that are not on the list: namesakes, near misses, unrelated people and companies."""

    def __init__(self, rng: random.Random, entries: Sequence[ListEntry], parties: Sequence[Party]) -> None:
        self.rng, self.entries, self.parties, self.names = rng, entries, parties, Names(rng)
        self.on_list = Counter(normalise(n) for e in entries for n in dict.fromkeys((e.name, *e.aliases)))
        # People whose name no other entry shares, with a date of birth and a country: the ones a
        # namesake can be told apart from.
        self.distinct = [
            i
            for i, e in enumerate(entries)
            if e.kind == "person" and e.birth_dates and e.countries and self.on_list[normalise(e.name)] == 1
        ]

    def make(self) -> Query:
        rng = self.rng
        roll = rng.random()
        index = rng.choice(self.distinct) if roll < 0.15 else rng.randrange(len(self.entries))
        entry, party = self.entries[index], self.parties[index]
        kind: Literal["person", "organisation"] = "person" if party.kind == "person" else "organisation"
        birth = (
            other_year(rng, entry.birth_dates[0] if entry.birth_dates else None) if kind == "person" else None
        )
        countries = other_country(rng, entry.countries)
        if roll < 0.15:
            category, name = "same name, other DOB and country", entry.name
        elif roll < 0.45:
            category = "one word differs"
            fresh = self.fresh(party.culture, kind).split()
            words = entry.name.split()
            slots = [
                k for k in range(min(len(words), len(fresh))) if drop_legal(words[k]) and drop_legal(fresh[k])
            ]
            if not slots:
                return self.make()
            slot = rng.choice(slots)
            words[slot] = fresh[slot]
            name = " ".join(words)
            # Half of these carry only one of the two facts that tell a namesake apart.
            if rng.random() < 0.5:
                birth, countries = (birth, ()) if birth and rng.random() < 0.5 else (None, countries)
        elif roll < 0.70:
            category = "shares a surname" if kind == "person" else "shares a word"
            fresh = self.fresh(party.culture, kind).split()
            name = " ".join([*fresh[:-1], entry.name.split()[-1]])
        else:
            category = "unrelated"
            name = self.fresh(rng.choice(CULTURES), kind)
            birth = random_date(rng) if kind == "person" else None
            countries = (rng.choice(ALL_COUNTRIES),)
        if category != "same name, other DOB and country" and normalise(name) in self.on_list:
            return self.make()
        return Query(Subject(name=name, kind=kind, countries=countries, birth_date=birth), category, None)

    def fresh(self, culture: str, kind: str) -> str:
        return (self.names.person(culture) if kind == "person" else self.names.organisation(culture))[0]


class Oracle:
    """Whether some list entry could plausibly be a negative's subject after all.

    Random names collide: "Rosa Medina Gomez" is not on the list, but "Rosa Medina" is, with no
    date of birth; any screening engine should raise that, and a reviewer decide. Such negatives
    are counted apart, not as false positives. The test is plain on purpose (no fuzzy matching):
    all of one name's words among the other's, at least two of them, and no date of birth or
    country that tells the two apart.
    """

    def __init__(self, entries: Sequence[ListEntry]) -> None:
        self.entries = entries
        self.by_word: dict[str, list[tuple[int, frozenset[str]]]] = {}
        for i, e in enumerate(entries):
            for n in dict.fromkeys((e.name, *e.aliases)):
                words = frozenset(normalise(n).split())
                for w in words:
                    self.by_word.setdefault(w, []).append((i, words))

    def ambiguous(self, subject: Subject) -> bool:
        words = frozenset(normalise(subject.name).split())
        if not words:
            return False
        rarest = min(words, key=lambda w: len(self.by_word.get(w, ())))
        for i, other in self.by_word.get(rarest, ()):
            if len(words & other) < 2 or not (words <= other or other <= words):
                continue
            e = self.entries[i]
            if (
                subject.birth_date
                and e.birth_dates
                and abs(int(subject.birth_date[:4]) - int(e.birth_dates[0][:4])) > 1
            ):
                continue
            if subject.countries and e.countries and not set(subject.countries) & set(e.countries):
                continue
            return True
        return False


def build_queries(
    rng: random.Random, entries: Sequence[ListEntry], parties: Sequence[Party], count: int
) -> list[Query]:
    negatives = NegativeMaker(rng, entries, parties)
    queries = []
    for _ in range(count):
        if rng.random() < 0.5:
            i = rng.randrange(len(entries))
            queries.append(positive(rng, i, entries[i], parties[i]))
        else:
            queries.append(negatives.make())
    return queries


# --- running and reporting ---------------------------------------------------------------------------------


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--entries", type=int, default=30_000, help="list entries (default 30000)")
    p.add_argument(
        "--queries", type=int, default=3_000, help="labelled queries, half true variants (default 3000)"
    )
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--thresholds", default="0.70,0.75,0.78,0.80,0.82,0.85,0.90", help="comma-separated")
    p.add_argument("--show", type=int, default=0, help="print this many missed variants and false positives")
    return p.parse_args(argv)


def found(query: Query, matches: Sequence[Match], threshold: float) -> bool:
    return any(m.entry.entry_id == str(query.target) and m.score >= threshold for m in matches)


def flagged(matches: Sequence[Match], threshold: float) -> bool:
    return any(m.score >= threshold for m in matches)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    for line in machine_lines(["rapidfuzz", "anyascii", "msgspec"]):
        print(line)
    entries, parties = build_list(rng, args.entries)
    queries = build_queries(rng, entries, parties, args.queries)
    oracle = Oracle(entries)
    names = sum(1 + len(e.aliases) for e in entries)
    print(f"list: {len(entries)} entries, {names} names ({names / len(entries):.2f} per entry)")

    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    screener = Screener(entries)
    print(f"build: {time.perf_counter() - started:.2f} s, peak RSS +{rss_mb() - before:.0f} MB")

    # Warm up on other names first: a running gateway has screened many before this one.
    for q in build_queries(random.Random(args.seed + 1), entries, parties, min(500, len(queries))):
        screener.screen(q.subject)
    started, cpu = time.perf_counter(), time.process_time()
    for q in queries:
        screener.screen(q.subject)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"screen at {DEFAULT_THRESHOLD:.2f}: {len(queries) / elapsed:.0f} names/s on one core "
        f"({elapsed / len(queries) * 1e3:.2f} ms per name, CPU {cpu / len(queries) * 1e3:.2f} ms)"
    )

    thresholds = sorted({float(t) for t in args.thresholds.split(",")} | {DEFAULT_THRESHOLD})
    results = [screener.screen(q.subject, threshold=min(thresholds)) for q in queries]
    positives = [(q, r) for q, r in zip(queries, results, strict=True) if q.target is not None]
    negatives, ambiguous = [], []
    for q, r in zip(queries, results, strict=True):
        if q.target is None:
            (ambiguous if oracle.ambiguous(q.subject) else negatives).append((q, r))
    print(
        f"queries: {len(queries)}: {len(positives)} true variants of list entries, {len(negatives)} names "
        f"not on the list, {len(ambiguous)} set aside (a list entry could be them: see the Oracle)"
    )
    print()
    print(f"{'threshold':>9}  {'recall':>7}  {'false pos.':>10}  {'alerts/query':>12}")
    for t in thresholds:
        recall = sum(found(q, r, t) for q, r in positives) / len(positives)
        false_positives = sum(flagged(r, t) for _, r in negatives) / len(negatives)
        alerts = sum(sum(m.score >= t for m in r) for r in results) / len(results)
        mark = "  <- DEFAULT_THRESHOLD" if t == DEFAULT_THRESHOLD else ""
        print(f"{t:>9.2f}  {recall:>7.3f}  {false_positives:>10.3f}  {alerts:>12.2f}{mark}")

    t = DEFAULT_THRESHOLD
    print(f"\nby kind of query, at {t:.2f}:")
    rows: dict[str, list[bool]] = {}
    for q, r in positives:
        # A variant with two changes counts under each of them, and under "two changes" too.
        changes = q.category.split(" + ")
        for change in [*changes, "(any two changes at once)"] if len(changes) > 1 else changes:
            rows.setdefault(f"variant, found: {change}", []).append(found(q, r, t))
    for q, r in negatives:
        rows.setdefault(f"not listed, flagged: {q.category}", []).append(flagged(r, t))
    rows["set aside, flagged"] = [flagged(r, t) for _, r in ambiguous]
    for key, outcomes in sorted(rows.items()):
        if outcomes:
            print(f"  {key:<55} {len(outcomes):>5}  {sum(outcomes) / len(outcomes):.3f}")

    shown = 0
    for q, r in positives:
        if shown < args.show and not found(q, r, t):
            e = entries[q.target or 0]
            best = next((m for m in r if m.entry.entry_id == str(q.target)), None)
            got = f"{best.score} {best.reasons}" if best else "not proposed"
            print(f"missed ({q.category}): {q.subject.name!r} for {e.name!r} {e.aliases}: {got}")
            shown += 1
    shown = 0
    for q, r in negatives:
        if shown < args.show and flagged(r, t):
            m = r[0]
            print(
                f"false positive ({q.category}): {q.subject.name!r} {q.subject.birth_date} {q.subject.countries}"
                f" ~ {m.matched_name!r} {m.entry.birth_dates} {m.entry.countries}: {m.score} {m.reasons}"
            )
            shown += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
