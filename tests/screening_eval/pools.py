"""Name material for the screening evaluation set: pools of names per culture, with scripts.

Moved here from ``tests/bench/bench_screening.py`` so that the bench and the unit test that
guards precision and recall build the same kind of set. Native-script forms (Cyrillic, Han,
Hangul, Arabic, Persian) and tone marks are written by hand from standard romanisations
(BGN/PCGN, ICAO 9303, Hanyu Pinyin, McCune-Reischauer and Revised Romanisation).
"""

# ruff: noqa: RUF001, RUF003, SIM905 -- name pools in other scripts, kept as readable space-separated strings.
from __future__ import annotations

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


# --- added for the larger evaluation set (issue 19) -------------------------------------------------

ORG_TRADE += ["International", "Manufacturing", "Semiconductor", "Petroleum", "Communications"]
# Long form -> the abbreviations people write for it.
ABBREVIATIONS = {
    "International": ("Intl", "Int'l", "Intl."),
    "Manufacturing": ("Mfg", "Mfg."),
    "Technology": ("Tech",),
    "Industries": ("Inds", "Ind."),
    "Engineering": ("Eng.", "Engg"),
    "Holdings": ("Hldgs",),
    "Investment": ("Invest",),
    "Corporation": ("Corp", "Corp."),
    "Company": ("Co", "Co."),
    "Limited": ("Ltd", "Ltd."),
    "Communications": ("Comms",),
    "Petroleum": ("Petrol",),
    "and": ("&",),
}
# One legal form, written in several languages and abbreviations: a customer and a list pick
# different ones.
LEGAL_EQUIVALENTS = (
    (
        "LLC",
        "L.L.C.",
        "OOO",
        "ООО",
        "Limited Liability Company",
        "TOO",
        "Obshchestvo s Ogranichennoy Otvetstvennostyu",
    ),
    ("JSC", "AO", "АО", "Joint Stock Company", "Aktsionernoe Obshchestvo"),
    ("PJSC", "PAO", "ПАО", "Public Joint Stock Company"),
    ("Co., Ltd.", "Company Limited", "Co Ltd", "Limited", "Ltd."),
    ("GmbH", "Gesellschaft mit beschränkter Haftung", "G.m.b.H."),
    ("AG", "Aktiengesellschaft"),
    ("S.A.", "SA", "Sociedad Anónima", "Société Anonyme"),
    ("Pte. Ltd.", "Pte Ltd", "Private Limited"),
    ("Sdn. Bhd.", "Sdn Bhd"),
    ("Corporation", "Corp.", "Corp"),
    ("Inc.", "Incorporated", "Inc"),
    ("Ltda.", "Limitada"),
    ("S.A. de C.V.", "SA de CV"),
    ("S.r.l.", "SRL"),
    ("B.V.", "BV"),
    ("A.Ş.", "AS", "Anonim Şirketi"),
    ("Sp. z o.o.", "Spolka z o.o."),
    ("Kabushiki Kaisha", "K.K.", "KK"),
    ("FZE", "F.Z.E."),
    ("PLC", "P.L.C.", "Public Limited Company"),
)
ORG_FORMS = (
    *ORG_FORMS,
    "Pte. Ltd.",
    "Sdn. Bhd.",
    "OOO",
    "AO",
    "PJSC",
    "S.A. de C.V.",
    "AG",
    "B.V.",
    "S.r.l.",
)

HONORIFICS = {
    "any": ("Mr", "Mr.", "Dr.", "Dr", "Prof.", "Gen.", "Col.", "Capt.", "H.E.", "Hon."),
    "ar": ("Sheikh", "Shaikh", "Haji", "Hajji", "Sayyid", "Imam"),
    "fa": ("Haj", "Seyed", "Ayatollah", "Hojatoleslam"),
    "ru": ("Gospodin",),
    "es": ("Sr.", "Don", "Ing.", "Lic."),
    "en": ("Sir", "Mrs", "Ms"),
    "tr": ("Bay",),
}

# Hanyu Pinyin with tone marks and tone numbers, for the Chinese pools above.
ZH_TONES = {
    "王": ("Wáng", "Wang2"), "李": ("Lǐ", "Li3"), "张": ("Zhāng", "Zhang1"), "刘": ("Liú", "Liu2"),
    "陈": ("Chén", "Chen2"), "杨": ("Yáng", "Yang2"), "黄": ("Huáng", "Huang2"), "赵": ("Zhào", "Zhao4"),
    "吴": ("Wú", "Wu2"), "周": ("Zhōu", "Zhou1"), "徐": ("Xú", "Xu2"), "孙": ("Sūn", "Sun1"),
    "马": ("Mǎ", "Ma3"), "朱": ("Zhū", "Zhu1"), "胡": ("Hú", "Hu2"), "郭": ("Guō", "Guo1"),
    "何": ("Hé", "He2"), "林": ("Lín", "Lin2"), "高": ("Gāo", "Gao1"), "罗": ("Luó", "Luo2"),
    "伟": ("wěi", "wei3"), "明": ("míng", "ming2"), "建": ("jiàn", "jian4"), "华": ("huá", "hua2"),
    "国": ("guó", "guo2"), "丽": ("lì", "li4"), "红": ("hóng", "hong2"), "军": ("jūn", "jun1"),
    "平": ("píng", "ping2"), "小": ("xiǎo", "xiao3"), "勇": ("yǒng", "yong3"), "芳": ("fāng", "fang1"),
    "磊": ("lěi", "lei3"), "涛": ("tāo", "tao1"), "斌": ("bīn", "bin1"), "海": ("hǎi", "hai3"),
    "龙": ("lóng", "long2"), "强": ("qiáng", "qiang2"), "燕": ("yàn", "yan4"), "杰": ("jié", "jie2"),
    "新": ("xīn", "xin1"), "文": ("wén", "wen2"), "志": ("zhì", "zhi4"), "刚": ("gāng", "gang1"),
}  # fmt: skip

# Korean: the list's McCune-Reischauer-like form, the Hangul, and the South's Revised Romanisation.
KO_HANGUL = {
    "Kim": ("김", "Kim"), "Ri": ("리", "Lee"), "Pak": ("박", "Park"), "Choe": ("최", "Choi"),
    "Jong": ("정", "Jeong"), "Kang": ("강", "Kang"), "Han": ("한", "Han"), "Ryu": ("류", "Yoo"),
    "Jo": ("조", "Cho"), "Yun": ("윤", "Yoon"),
    "Song": ("성", "Seong"), "Ho": ("호", "Ho"), "Chol": ("철", "Cheol"), "Il": ("일", "Il"),
    "Nam": ("남", "Nam"), "Yong": ("용", "Yong"), "Su": ("수", "Su"), "Hyok": ("혁", "Hyeok"),
    "Myong": ("명", "Myeong"), "Chun": ("춘", "Chun"), "Gwang": ("광", "Gwang"), "Hak": ("학", "Hak"),
    "Sung": ("승", "Seung"), "Min": ("민", "Min"), "Jin": ("진", "Jin"), "Dok": ("덕", "Deok"),
    "Man": ("만", "Man"), "Won": ("원", "Won"), "Guk": ("국", "Guk"), "Bok": ("복", "Bok"), "Ung": ("웅", "Ung"),
}  # fmt: skip

# Arabic script for the first forms of the Arabic pools (the generated family roots have none).
AR_SCRIPT = {
    "Mohammed": "محمد", "Ahmed": "أحمد", "Ali": "علي", "Hassan": "حسن", "Hussein": "حسين", "Omar": "عمر",
    "Khalid": "خالد", "Youssef": "يوسف", "Ibrahim": "إبراهيم", "Abdullah": "عبد الله", "Mahmoud": "محمود",
    "Mustafa": "مصطفى", "Tariq": "طارق", "Faisal": "فيصل", "Samir": "سمير", "Walid": "وليد", "Nabil": "نبيل",
    "Karim": "كريم", "Rashid": "رشيد", "Hamza": "حمزة", "Salim": "سليم", "Jamal": "جمال", "Farid": "فريد",
    "Adel": "عادل", "Bilal": "بلال", "Ziad": "زياد", "Osama": "أسامة", "Majid": "ماجد", "Nasser": "ناصر",
    "Imad": "عماد", "Fadi": "فادي", "Hani": "هاني", "Raed": "رائد",
    "Al-Rashid": "الرشيد", "Al-Nouri": "النوري", "Haddad": "حداد", "Khoury": "خوري", "Mansour": "منصور",
    "Saleh": "صالح", "Hamdan": "حمدان", "Al-Tamimi": "التميمي", "Qasim": "قاسم", "Jaber": "جابر",
    "Barakat": "بركات", "Al-Masri": "المصري", "Darwish": "درويش", "Al-Hakim": "الحكيم", "Shami": "شامي",
    "Al-Zahrani": "الزهراني", "Aziz": "عزيز", "Suleiman": "سليمان", "Yassin": "ياسين", "Al-Obeidi": "العبيدي",
    "Khalil": "خليل", "Issa": "عيسى", "Awad": "عوض", "Fakhoury": "فاخوري", "Al-Shehri": "الشهري",
    "Bakr": "بكر", "Zaidan": "زيدان", "Al-Amri": "العمري", "Hijazi": "حجازي", "Kanaan": "كنعان",
}  # fmt: skip
FA_SCRIPT = {
    "Reza": "رضا", "Ali": "علی", "Hossein": "حسین", "Mehdi": "مهدی", "Mohsen": "محسن", "Hamid": "حمید",
    "Saeed": "سعید", "Majid": "مجید", "Behrouz": "بهروز", "Farhad": "فرهاد", "Kourosh": "کوروش",
    "Dariush": "داریوش", "Babak": "بابک", "Ramin": "رامین", "Arash": "آرش", "Nasrin": "نسرین",
    "Maryam": "مریم", "Shirin": "شیرین",
    "Ahmadi": "احمدی", "Hosseini": "حسینی", "Rezaei": "رضایی", "Mohammadi": "محمدی", "Karimi": "کریمی",
    "Moradi": "مرادی", "Jafari": "جعفری", "Sadeghi": "صادقی", "Rahimi": "رحیمی", "Hashemi": "هاشمی",
    "Ghorbani": "قربانی", "Mousavi": "موسوی", "Kazemi": "کاظمی", "Shirazi": "شیرازی", "Tehrani": "تهرانی",
    "Esfahani": "اصفهانی", "Najafi": "نجفی", "Bagheri": "باقری", "Salehi": "صالحی", "Zamani": "زمانی",
}  # fmt: skip
# Persian names in other Latin spellings (as Iranian passports, the BBC and OFAC write them).
FA_RESPELL = {
    "Hossein": "Hosein", "Hosseini": "Hoseini", "Saeed": "Said", "Behrouz": "Behruz", "Kourosh": "Kurosh",
    "Dariush": "Daryoush", "Mousavi": "Musavi", "Sadeghi": "Sadeqi", "Bagheri": "Baqeri", "Ghorbani": "Qorbani",
    "Mehdi": "Mahdi", "Rezaei": "Rezaee", "Jafari": "Jafary", "Mohammadi": "Mohamadi", "Hashemi": "Hashimi",
}  # fmt: skip

# Legal-form words the generator drops to make an alias or a near miss ("Blue Lantern Trading").
# A frozen copy of the matcher's list when the set was built, so that changing the matcher cannot
# change the evaluation set.
EVAL_LEGAL_FORMS = frozenset(
    """
    co corp corporation company inc incorporated ltd limited llc llp lp plc
    gmbh mbh ag kg ohg ug ev sa sas sarl srl spa
    sl sro as bv nv ab oy oyj aps pte pty pvt
    ooo oao zao pao nao ao pjsc ojsc cjsc jsc tov too
    pat prat fze fzco fzc fzllc sdn bhd tbk kk youxian gongsi
    """.split()
)
