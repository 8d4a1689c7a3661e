#!/usr/bin/env python3
"""A second clinic-set generator for measuring the MPI, written apart from its rules.

usage: python3 bench/mpi_clinic_set_b.py --seed N --people 4000 --out FILE.csv [--orgs 5]

mpi_clinic_set (bench/mpi_clinic_set.cc, mpi/testing/synthetic.h) was built alongside
the matching rules, so its families are the ones the rules were shaped on. This one was
written from the description of a clinic population alone, without reading the matcher
or that generator: its own proportions, its own name lists and its own families
(namesakes of a common name sharing a birth date, a guarantor's SSN on a dependant's
registration, placeholder SSNs, practices that store upper case or ASCII only). Read its
sets the same way:

  python3 bench/mpi_clinic_set_b.py --seed 105 --people 4000 --out b-105.csv
  build/bin/hiectl mpi evaluate --csv b-105.csv --org-column org --clusters-out c.csv

Python 3 standard library only (Debian's python3); not part of the build or the tests.

Writes clinic-style registrations of a synthetic US population at several
practices (org-a, org-b, ...).  Ground truth is in rec_id = rec-<P>-<o>-<k>:
P = true person number (1..people, randomly permuted), o = 0-based org index
(org-a = 0), k = 0-based ordinal of that person's registration (k increases
in time order, so rec_ids are unique).  Rows are written in shuffled order.
Deterministic for a seed (only random.Random(seed) is used; the geography --
towns, postcodes, area codes -- comes from a fixed Random(20240607) so it is the
same "region" for every seed).  Standard library only.

POPULATION (for N people; counts are of real persons, before registration)
  ethnic mix of family names: Anglo 55%, Hispanic 19%, African-American 13%,
    East Asian 5.5%, South Asian 2.5%, European (Polish/Italian/German/French/
    Greek/Russian/Irish/Nordic) 5%; first names partly cross-group (e.g. Kevin
    Nguyen); names drawn with Zipf-like weights so common names collide.
  ~35% of Hispanic/French/German persons carry accented spellings (José, García,
    François, Müller); about half the practices store ASCII only.
  ~20% of Hispanic households have a two-part family name (Garcia-Lopez).
  twins: round(1.5% N) sets (~3% of people; US ~3% of births are twins);
    triplets: round(0.2% N) sets (deliberately over-sampled).  Same family name,
    birth date, address and phone; 30% of the names are similar-sounding
    (Jon/Joan, Daniel/Danielle, Laura/Lara, Mark/Marc, Ann/Anne ...), the rest
    clearly different; sex same or different; own SSNs, consecutive in 40%;
    ~35% adults, of whom those 25 or over live apart 40% of the time (own
    address/phone).  multiple_birth
    (birth order) recorded on 35% of their registrations, never for others.
  junior/senior: round(1% N) father/son pairs with the same first name (60% same
    middle name), same surname, same address 60%; in ~35% the birth years differ
    in exactly one digit (1952/1982), 12% share month+day; "Jr"/"Sr" appended
    to the surname on 10%/5% of their registrations.
  sibling groups: round(3% N) households of 2-4 children (+0-2 parents, 50%):
    same family name/address/phone, birth years apart; in 10% of groups two
    siblings' birth dates differ in a single year digit only (same month/day).
  couples: round(6% N) husband/wife pairs, same address (phone shared 60%),
    wife with husband's surname 85%.
  married name change: up to round(1.5% N) women aged 20-60 (from couples' wives and
    single women) registered under the maiden name before and the married name
    after (10% hyphenated maiden-married); former_surname filled on 35% of the
    post-marriage registrations; 70% also moved, 50% changed phone.
  movers: 22% of the other persons with >= 2 registrations move between
    registrations (40% same town; a few out of state); phone changes with 60%
    of moves and for 12% of non-movers.
  decoys: round(1% N) pairs of DIFFERENT people with similar first names
    (François/Francisco, Jon/Joan, Eric/Erica, Chris/Christine, Steven/Stephen,
    Sara/Sarah ...), same family name, or (25% of draws, where the name has one:
    about 5% in all) a spelling variant of it, same
    birth date 20% / same year 50% / adjacent year 30%, different towns.
  common-name clusters: max(3, round(0.25% N)) clusters (at most 18, one a name) of 4-10 people named
    e.g. John Smith / Maria Garcia / James Johnson within a 6-year birth window,
    one pair in each cluster with an identical birth date; mostly different
    towns.  Everyone else: single persons (88% adults 18-98, 12% children).
  SSN: 93% of adults / 85% of children have one (unique, except placeholder).

COLUMNS
  rec_id,org,given_name,middle_name,surname,former_surname,sex,street_number,
  address_1,address_2,suburb,postcode,state,date_of_birth,soc_sec_id,phone,
  multiple_birth; no quoting (no value holds a comma); empty is missing; sex m/f;
  date_of_birth YYYYMMDD; soc_sec_id ddd-dd-dddd; phone (ddd) ddd-dddd;
  multiple_birth the birth order 1-3.  Counts given as round(x% N) round halves to
  even, so at small N a family may be absent.

REGISTRATIONS
  per person: 1 reg 57%, 2 32%, 3 8%, 4 3% (mean ~1.58; married women >= 2);
  distinct practices (where there are as many; else some repeat) except 5%
  of multi-registered people registered twice at
  one practice; household members share a "family practice" for 60% of first
  registrations (so twins/siblings often sit in the same org).
  Per-practice styles (seeded): UPPER-case names (30% of orgs), ASCII-only
  (50%), street types abbreviated / spelled out / mixed; SSN capture rate
  25-55% and phone capture 55-85% per org.
CLERICAL NOISE per registration (independent):
  given name: person goes by a nickname (15% of nick-able persons; used on 60%
    of their regs) + ad-hoc nickname 4% (table of ~90 names); spelling variant
    3% (Steven/Stephen, Catherine/Katherine ...); typo 4% (insert/delete/
    substitute-keyboard-neighbour/transpose); initial only ("L" or "L.") 2%;
    person goes by middle name (3% of persons, 70% of their regs; 0.5% ad hoc);
    given<->surname swapped 1.5% (4% East Asian).
  middle name: 70% Anglo/AA/European persons have one (40% Hispanic, 25% Asian);
    recorded full 40%, initial 20%, missing 40%.
  surname: typo 3%; spelling variant 2% (Thompson/Thomson, Meyer/Meier,
    McDonald/MacDonald); hyphenated recorded first part 25% / second 7% /
    space-joined 13%; apostrophes dropped 30% (O'Brien/OBrien,
    a tenth of those as O Brien); particle names
    collapsed 30% (De La Cruz/Delacruz).
  sex: missing 2%, wrong 0.4%.
  date_of_birth: missing 1.5%, one digit mistyped 2.5%, day<->month 1.2% of draws (only
    where the day is 12 or less and not the month: about 0.44% in all).
  soc_sec_id: captured at the org rate (overall ~60-65% missing); 3% of captured
    SSNs have a digit substituted/transposed; 1% of captured SSNs on children/
    wives are the guarantor's (parent/husband's) SSN; 0.2% of all registrations
    carry the placeholder 999-99-9999.
  phone: missing at org rate (~30% overall), typo 1.5%.
  address: wholly missing 12% (state kept on 30% of those); street_number
    missing 3%, typo 1.5%; street typo 3%; apartment recorded 70% of the time in
    varying formats (Apt 4B / Apt. 4B / #4B / Unit 4B); suburb missing 4%,
    typo 2%; postcode missing 4%, typo 1%; state missing 3%.
"""
import argparse
import os
import datetime
import random
import sys
import unicodedata
from collections import Counter, defaultdict

REF = datetime.date(2024, 6, 30)
HEADER = ("rec_id,org,given_name,middle_name,surname,former_surname,sex,"
          "street_number,address_1,address_2,suburb,postcode,state,"
          "date_of_birth,soc_sec_id,phone,multiple_birth")

# ----------------------------------------------------------------- names
def W(s):
    return s.split()

ANGLO_M = W("""James John Robert Michael William David Richard Joseph Thomas Charles
Christopher Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin
Brian George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan
Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick
Raymond Jack Dennis Jerry Tyler Aaron Henry Adam Douglas Nathan Peter Zachary Kyle Walter
Harold Jeremy Ethan Carl Keith Roger Gerald Christian Terry Sean Arthur Austin Noah
Lawrence Jesse Bryan Jordan Albert Dylan Bruce Gabriel Alan Logan Wayne Ralph Roy Eugene
Randy Vincent Russell Louis Philip Bradley Liam Mason Aiden Elijah Owen Caleb Hunter
Connor Theodore Leonard Dean Glen Marc Jon Francis Shawn Travis Curtis Dale Craig""")
ANGLO_F = W("""Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen
Lisa Nancy Betty Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy
Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna
Brenda Pamela Emma Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet
Catherine Heather Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina
Joan Evelyn Judith Megan Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara
Madison Frances Kathryn Janice Jean Abigail Alice Judy Sophia Grace Denise Amber Doris
Marilyn Danielle Beverly Isabella Theresa Diana Natalie Brittany Charlotte Marie Kayla
Alexis Lori Ava Mia Ella Harper Chloe Lara Anne Erica Paula Louise Claire Tiffany Leah
Nora Taylor Jenna Haley""")
HISP_M = W("""Jose Juan Luis Carlos Jesus Miguel Jorge Antonio Francisco Alejandro
Manuel Pedro Ricardo Fernando Javier Eduardo Roberto Rafael Sergio Mario Alberto Raul
Hector Diego Oscar Andres Arturo Enrique Ramon Gerardo Ruben Ignacio Salvador Julio
Guillermo Adrian Gabriel Santiago Mateo Angel""")
HISP_F = W("""Maria Guadalupe Juana Ana Rosa Carmen Josefina Veronica Patricia Elizabeth
Adriana Gabriela Alejandra Leticia Martha Yolanda Sofia Isabel Lucia Daniela Valentina
Camila Ximena Mariana Fernanda Paola Claudia Silvia Lorena Angelica Beatriz Esperanza
Marisol Araceli Juliana Antonia Francisca Graciela""")
AA_M = W("""DeShawn Jamal Tyrone Darnell Malik Terrell Andre Marcus Reginald Jerome
Darius Lamar Cedric Dwayne Kareem Rashad Jalen Tremaine DeAndre Jermaine Demetrius
Xavier Isaiah Maurice Terrance""")
AA_F = W("""Latoya Keisha Tamika Shaniqua Aaliyah Imani Ebony Jasmine Tanisha Kiara
Destiny Monique Precious Shanice Deja Nia Latisha Yolanda Tiara Ayanna Kenya Aisha
Brianna Janelle Raven""")
EA_M = W("""Wei Jian Hao Ming Jun Hiroshi Takeshi Kenji Minh Thanh Tuan Duc Hung Jin
Min-jun Ji-hoon Sung-min Hyun Vinh Quang Yong Haruto Ren Bao Long""")
EA_F = W("""Mei Li Xiu Ying Yan Lan Hua Yuki Aiko Sakura Mai Linh Thuy Ngoc Hoa Trang
Ji-woo Seo-yeon Min-ji Soo-jin Hana Yuna Lien Xin Jia""")
SA_M = W("""Rahul Amit Raj Sanjay Vikram Arjun Rohan Anil Sunil Ravi Suresh Ramesh Deepak
Ajay Vijay Nikhil Karan Aditya Mohammed Ahmed Ali Imran Omar Hassan Harpreet Gurpreet""")
SA_F = W("""Priya Anjali Pooja Neha Sunita Anita Kavita Deepa Divya Shreya Meera Lakshmi
Asha Fatima Ayesha Zainab Sana Nisha Rekha Simran Harpreet Gurpreet""")
EU_M = W("""Francois Pierre Luc Hans Klaus Stefan Piotr Tomasz Krzysztof Giovanni Marco
Luca Giuseppe Dimitrios Nikolaos Sven Lars Erik Jan Pavel Ivan Dmitri Sergei Andrei
Mikhail Matthias Jurgen Bogdan Yuri Aleksandr""")
EU_F = W("""Francoise Marie Anna Ingrid Greta Katarzyna Agnieszka Magdalena Giulia
Francesca Chiara Elena Sofia Olga Natalia Svetlana Irina Tatiana Ewa Zofia Helga
Brigitte Monika Eleni Maria Ioanna Astrid Karin Zoe Renee""")

ANGLO_S = W("""Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor
Thomas Moore Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen
King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips
Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Peterson
Cooper Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray
James Hughes Price Sanders Myers Long Ross Foster Powell Jenkins Perry Russell Sullivan
Fisher Henderson Coleman Simmons Patterson Jordan Reynolds Hamilton Graham Wallace West
Cole Hayes Gibson Ellis Stevens Tucker Porter Hunter Hicks Crawford Henry Boyd Mason
Kennedy Warren Dixon Burns Gordon Shaw Holmes Rice Hunt Black Daniels Palmer Mills Grant
Knight Ferguson Stone Hawkins Dunn Perkins Hudson Spencer Stephens Pierce Berry Matthews
Arnold Willis Ray Watkins Olson Carroll Duncan Snyder Hart Cunningham Bradley Lane
Andrews Harper Fox Riley Armstrong Carpenter Weaver Greene Lawrence Elliott Sims Austin
Peters Kelley Franklin Lawson Fields Ryan McDonald MacKenzie O'Neill Thomson Clarke""")
HISP_S = W("""Garcia Rodriguez Martinez Hernandez Lopez Gonzalez Perez Sanchez Ramirez
Torres Flores Rivera Gomez Diaz Cruz Morales Reyes Gutierrez Ortiz Ramos Chavez Mendoza
Ruiz Alvarez Castillo Jimenez Vasquez Moreno Romero Herrera Medina Aguilar Vargas Guzman
Castro Fernandez Munoz Rojas Salazar Delgado Pena Soto Contreras Guerrero Espinoza
Sandoval Cervantes Luna Navarro Cabrera Campos Ibarra Dominguez Vega Estrada Maldonado""") + [
    "De La Cruz", "Del Rio", "De Leon"]
AA_S = W("""Washington Jefferson Jackson Robinson Harris Banks Booker Mosley Gaines
Coleman Freeman Holmes Dorsey Pierce Bell Simmons Franklin Hayes Glover Ware Hairston
Joseph Charles Toussaint Pierre Okafor Mensah Adeyemi Abdi Jean-Baptiste""")
EA_S = W("""Nguyen Tran Le Pham Huynh Hoang Phan Vu Vo Dang Bui Do Ho Ngo Duong Chen Wang
Li Zhang Liu Yang Huang Zhao Wu Zhou Lin Xu Sun Ma Kim Lee Park Choi Jung Kang Cho Yoon
Tanaka Suzuki Takahashi Watanabe Yamamoto Nakamura Sato Ito Wong Chan Lam Cheung Ng""")
SA_S = W("""Patel Shah Singh Kumar Sharma Gupta Desai Mehta Reddy Rao Iyer Nair Joshi
Chopra Kapoor Malhotra Agarwal Bhatt Khan Ahmed Hussain Ali Chaudhry Siddiqui Qureshi
Kaur Gill Sandhu""")
EU_S = W("""Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Kowalski
Nowak Wisniewski Wojcik Kaminski Lewandowski Rossi Russo Ferrari Esposito Bianchi Romano
Colombo Ricci Marino Greco Papadopoulos Georgiou Dubois Lefebvre Moreau Laurent Girard
Bonnet Petrov Ivanov Smirnov Kuznetsov Popov Volkov Jansen Andersson Johansson Larsen
Nielsen Hansen O'Brien Murphy Kelly Sullivan O'Connor McCarthy Byrne Doyle""") + [
    "de Vries", "van der Berg", "Di Salvo"]

MID_M = W("Lee James Michael Allen Wayne Ray Joseph Edward Paul Lynn Thomas John Alan Scott")
MID_F = W("Marie Ann Lynn Elizabeth Rose Louise Jean Mae Grace Nicole Renee Michelle Jo Kay")

GROUPS = ["anglo", "hisp", "aa", "ea", "sa", "eu"]
GROUP_W = [55, 19, 13, 5.5, 2.5, 5]
OWN_GIVEN = {  # (own list, share of own list; rest from Anglo)
    "anglo": (None, 0.0), "hisp": ((HISP_M, HISP_F), 0.75), "aa": ((AA_M, AA_F), 0.5),
    "ea": ((EA_M, EA_F), 0.45), "sa": ((SA_M, SA_F), 0.75), "eu": ((EU_M, EU_F), 0.5)}
OWN_SUR = {"anglo": (ANGLO_S, 1.0), "hisp": (HISP_S, 1.0), "aa": (AA_S, 0.35),
           "ea": (EA_S, 1.0), "sa": (SA_S, 1.0), "eu": (EU_S, 1.0)}

ACCENT = {"Jose": "José", "Maria": "María", "Jesus": "Jesús", "Raul": "Raúl",
          "Hector": "Héctor", "Andres": "Andrés", "Ramon": "Ramón", "Ruben": "Rubén",
          "Angel": "Ángel", "Veronica": "Verónica", "Sofia": "Sofía", "Lucia": "Lucía",
          "Angelica": "Angélica", "Francois": "François", "Francoise": "Françoise",
          "Zoe": "Zoë", "Renee": "Renée", "Jurgen": "Jürgen", "Garcia": "García",
          "Rodriguez": "Rodríguez", "Martinez": "Martínez", "Hernandez": "Hernández",
          "Lopez": "López", "Gonzalez": "González", "Perez": "Pérez", "Sanchez": "Sánchez",
          "Ramirez": "Ramírez", "Gomez": "Gómez", "Diaz": "Díaz", "Gutierrez": "Gutiérrez",
          "Chavez": "Chávez", "Alvarez": "Álvarez", "Jimenez": "Jiménez",
          "Vasquez": "Vásquez", "Fernandez": "Fernández", "Munoz": "Muñoz", "Pena": "Peña",
          "Dominguez": "Domínguez", "Muller": "Müller", "Guzman": "Guzmán", "Adrian": "Adrián"}

NICK = {
    "William": ["Bill", "Will", "Billy"], "Robert": ["Bob", "Rob", "Bobby"],
    "Elizabeth": ["Liz", "Beth", "Betty", "Lizzie"], "Jennifer": ["Jenny", "Jen"],
    "Katherine": ["Kate", "Kathy", "Katie"], "Catherine": ["Cathy", "Kate"],
    "Kathryn": ["Kate", "Katie"], "Anthony": ["Tony"], "Richard": ["Rick", "Dick", "Rich"],
    "James": ["Jim", "Jimmy", "Jamie"], "John": ["Jack", "Johnny"], "Michael": ["Mike", "Mikey"],
    "Christopher": ["Chris"], "Thomas": ["Tom", "Tommy"], "Joseph": ["Joe", "Joey"],
    "Charles": ["Charlie", "Chuck"], "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"],
    "David": ["Dave"], "Steven": ["Steve"], "Stephen": ["Steve"], "Edward": ["Ed", "Eddie", "Ted"],
    "Margaret": ["Maggie", "Peggy", "Meg"], "Patricia": ["Pat", "Patty", "Trish"],
    "Susan": ["Sue", "Susie"], "Deborah": ["Debbie", "Deb"], "Debra": ["Debbie"],
    "Rebecca": ["Becky"], "Jessica": ["Jess", "Jessie"], "Samantha": ["Sam"],
    "Alexander": ["Alex"], "Benjamin": ["Ben"], "Nicholas": ["Nick"], "Jonathan": ["Jon"],
    "Timothy": ["Tim"], "Kenneth": ["Ken", "Kenny"], "Donald": ["Don"], "Ronald": ["Ron"],
    "Gregory": ["Greg"], "Jeffrey": ["Jeff"], "Andrew": ["Andy", "Drew"], "Joshua": ["Josh"],
    "Zachary": ["Zach"], "Samuel": ["Sam"], "Victoria": ["Vicky", "Tori"],
    "Christine": ["Chris", "Chrissy"], "Christina": ["Tina", "Chris"], "Kimberly": ["Kim"],
    "Pamela": ["Pam"], "Cynthia": ["Cindy"], "Barbara": ["Barb"], "Dorothy": ["Dot"],
    "Abigail": ["Abby"], "Alexandra": ["Alex"], "Frances": ["Fran"], "Francisco": ["Paco", "Pancho"],
    "Jose": ["Pepe"], "Guadalupe": ["Lupe"], "Jesus": ["Chuy"], "Eduardo": ["Lalo"],
    "Alejandro": ["Alex"], "Ignacio": ["Nacho"], "Roberto": ["Beto"], "Alberto": ["Beto"],
    "Gerald": ["Jerry"], "Lawrence": ["Larry"], "Leonard": ["Leo", "Len"], "Raymond": ["Ray"],
    "Theodore": ["Ted", "Teddy"], "Peter": ["Pete"], "Virginia": ["Ginny"],
    "Jacqueline": ["Jackie"], "Judith": ["Judy"], "Mohammed": ["Mo"], "Nathan": ["Nate"],
    "Douglas": ["Doug"], "Gabriel": ["Gabe"], "Gabriela": ["Gaby"], "Vincent": ["Vince"],
    "Phillip": ["Phil"], "Philip": ["Phil"], "Frank": ["Frankie"], "Francis": ["Frank"],
    "Carolyn": ["Carol"], "Kathleen": ["Kathy", "Kate"], "Josefina": ["Josie"],
    "Stephanie": ["Steph"], "Melissa": ["Missy", "Mel"], "Amanda": ["Mandy"],
    "Madison": ["Maddie"], "Dimitrios": ["Jim"], "Aleksandr": ["Sasha", "Alex"],
}

VARIANT_SETS = [
    ("Catherine", "Katherine", "Kathryn"), ("Steven", "Stephen"), ("Jon", "John"),
    ("Sara", "Sarah"), ("Ann", "Anne"), ("Jeffrey", "Geoffrey"), ("Philip", "Phillip"),
    ("Alan", "Allen", "Allan"), ("Brian", "Bryan"), ("Eric", "Erik"), ("Marc", "Mark"),
    ("Carl", "Karl"), ("Teresa", "Theresa"), ("Megan", "Meghan"), ("Shawn", "Sean"),
    ("Mohammed", "Muhammad", "Mohamed"), ("Isabel", "Isabelle"), ("Jamie", "Jaime"),
    ("Deborah", "Debra"), ("Aaliyah", "Aliyah"), ("Latoya", "LaToya"), ("DeShawn", "Deshawn"),
    ("DeAndre", "Deandre"), ("Min-jun", "Minjun", "Min Jun"), ("Ji-hoon", "Jihoon"),
    ("Seo-yeon", "Seoyeon"), ("Min-ji", "Minji"), ("Soo-jin", "Soojin"), ("Sung-min", "Sungmin"),
    ("Dmitri", "Dmitry"), ("Aleksandr", "Alexander"), ("Yuri", "Yury"), ("Krzysztof", "Christopher"),
    ("Ana", "Anna"), ("Zoe", "Zoey"),
    ("Thompson", "Thomson"), ("Johnson", "Jonson"), ("Reed", "Reid"), ("McDonald", "MacDonald"),
    ("Smith", "Smyth"), ("Meyer", "Meier", "Mayer"), ("Schmidt", "Schmitt"), ("Hansen", "Hanson"),
    ("Peterson", "Petersen"), ("Clark", "Clarke"), ("Gray", "Grey"), ("Muller", "Mueller"),
    ("Vasquez", "Vazquez"), ("Hoffmann", "Hoffman"), ("Nielsen", "Nielson"), ("Byrne", "Burns"),
    ("Chaudhry", "Chaudhary", "Choudhury"), ("Mohammed", "Mohammad"), ("Lee", "Li"),
    ("Stevens", "Stephens"), ("Kelly", "Kelley"), ("Greene", "Green"), ("Ivanov", "Ivanoff"),
]
VARIANT = defaultdict(list)
for _vs in VARIANT_SETS:
    for _a in _vs:
        for _b in _vs:
            if _a != _b and _b not in VARIANT[_a]:
                VARIANT[_a].append(_b)

SIMILAR_TWIN = [("Jon", "m", "Joan", "f"), ("Daniel", "m", "Danielle", "f"),
                ("Laura", "f", "Lara", "f"), ("Mark", "m", "Marc", "m"), ("Ann", "f", "Anne", "f"),
                ("Eric", "m", "Erica", "f"), ("Brian", "m", "Bryan", "m"), ("Kayla", "f", "Kaylee", "f"),
                ("Madison", "f", "Addison", "f"), ("Jayden", "m", "Jaden", "m"), ("Ella", "f", "Emma", "f"),
                ("Mia", "f", "Maya", "f"), ("Ava", "f", "Eva", "f"), ("Tyler", "m", "Taylor", "f"),
                ("Isaac", "m", "Isaiah", "m"), ("Liam", "m", "Leah", "f"), ("Noah", "m", "Nora", "f"),
                ("Alex", "m", "Alexa", "f"), ("Paul", "m", "Paula", "f"), ("Gabriel", "m", "Gabriela", "f"),
                ("Adrian", "m", "Adriana", "f"), ("Julian", "m", "Juliana", "f"), ("Carl", "m", "Carla", "f"),
                ("Jesse", "m", "Jessie", "f"), ("Christopher", "m", "Christina", "f")]
SIMILAR_TRIPLET = [("Jon", "m", "Joan", "f", "John", "m"), ("Ann", "f", "Anne", "f", "Anna", "f"),
                   ("Daniel", "m", "Danielle", "f", "Daniela", "f"), ("Mark", "m", "Marc", "m", "Marcus", "m")]
DECOY = [("Francois", "m", "Francisco", "m"), ("Jon", "m", "Joan", "f"), ("Eric", "m", "Erica", "f"),
         ("Chris", "m", "Christine", "f"), ("Daniel", "m", "Danielle", "f"), ("Paul", "m", "Paula", "f"),
         ("Gabriel", "m", "Gabriela", "f"), ("Adrian", "m", "Adriana", "f"), ("Julian", "m", "Juliana", "f"),
         ("Michael", "m", "Michelle", "f"), ("Carl", "m", "Carla", "f"), ("Louis", "m", "Louise", "f"),
         ("Francis", "m", "Frances", "f"), ("Jesse", "m", "Jessie", "f"), ("Antonio", "m", "Antonia", "f"),
         ("Bernard", "m", "Bernadette", "f"), ("Dean", "m", "Deanna", "f"), ("Christopher", "m", "Christina", "f"),
         ("Alexander", "m", "Alexandra", "f"), ("Joseph", "m", "Josephine", "f"), ("Martin", "m", "Martina", "f"),
         ("Robert", "m", "Roberta", "f"), ("Patrick", "m", "Patricia", "f"), ("Mark", "m", "Marc", "m"),
         ("Brian", "m", "Bryan", "m"), ("Sean", "m", "Shawn", "m"), ("Laura", "f", "Lara", "f"),
         ("Ann", "f", "Anne", "f"), ("Katherine", "f", "Kathryn", "f"), ("Jon", "m", "John", "m"),
         ("Steven", "m", "Stephen", "m"), ("Sara", "f", "Sarah", "f"), ("Marie", "f", "Maria", "f"),
         ("Ana", "f", "Anna", "f"), ("Eva", "f", "Ava", "f"), ("Jean", "f", "Joan", "f")]
COMMON = [("John", "Smith", "m", "anglo"), ("Maria", "Garcia", "f", "hisp"),
          ("James", "Johnson", "m", "anglo"), ("Michael", "Williams", "m", "anglo"),
          ("Mary", "Brown", "f", "anglo"), ("Robert", "Jones", "m", "anglo"),
          ("Jose", "Hernandez", "m", "hisp"), ("Jennifer", "Miller", "f", "anglo"),
          ("David", "Nguyen", "m", "ea"), ("Wei", "Chen", "m", "ea"), ("Priya", "Patel", "f", "sa"),
          ("Jose", "Rodriguez", "m", "hisp"), ("Linda", "Davis", "f", "anglo"),
          ("Christopher", "Johnson", "m", "anglo"), ("Ashley", "Williams", "f", "anglo"),
          ("Juan", "Martinez", "m", "hisp"), ("Michael", "Jackson", "m", "aa"),
          ("Elizabeth", "Jones", "f", "anglo")]

# ----------------------------------------------------------------- geography
STREET_BASE = W("""Oak Maple Pine Cedar Elm Willow Birch Walnut Chestnut Spruce Hickory
Aspen Sycamore Magnolia Dogwood Juniper Laurel Poplar Linden Alder Lincoln Washington
Jefferson Madison Adams Jackson Franklin Monroe Grant Church Mill School Park Lake River
Spring Meadow Forest Hill Ridge Valley Sunset Highland Orchard Garden Main High Broad
Market Union Center Front Water Bridge Railroad Liberty Prospect Pleasant Fairview Lakeview
Hillcrest Crestwood Brookside Riverside Woodland Greenfield Summit Harmony Heritage Quarry
Foxglove Kessler Tanner Hartwell Bramble Copper Granite Sandstone Windmill Carriage Lantern
Harbor Beacon Cardinal Bluebird Sparrow Heron Wren""")
STREET_TYPES = [("Street", "St", 30), ("Avenue", "Ave", 18), ("Road", "Rd", 14), ("Drive", "Dr", 14),
                ("Lane", "Ln", 7), ("Court", "Ct", 5), ("Boulevard", "Blvd", 3), ("Place", "Pl", 3),
                ("Circle", "Cir", 2), ("Way", "Way", 2), ("Terrace", "Ter", 1), ("Parkway", "Pkwy", 1)]
DIRS = [("North", "N"), ("South", "S"), ("East", "E"), ("West", "W")]
TOWN_NAMES = ["Ambervale", "Ashcombe", "Bellhaven", "Birchmont", "Briarton", "Caddo Springs",
              "Carrow", "Castlebury", "Cedarholm", "Clearwater Mills", "Colbyville", "Crestline Heights",
              "Dunmore Falls", "Eastbrook", "Elmstead", "Fairhollow", "Fallon Ridge", "Foxborough Hills",
              "Glenmarsh", "Granger Point", "Harlow", "Havenport", "Hazelby", "Hollins Creek", "Ironwood",
              "Juniper Bay", "Kingsley Forge", "Lakemont", "Larkfield", "Linden Grove", "Marrowfield",
              "Meadowvale", "Millbrook Junction", "New Tarrin", "North Eddington", "Oakhurst",
              "Orchard Hill", "Pelham Crossing", "Pine Hollow", "Quarry Bend", "Redfern",
              "Riverton Heights", "Rosedale Park", "Saltmarsh", "Silverlake", "Stonebridge",
              "Sutter Vale", "Thornbury", "Tillman", "Upper Kessler", "Walnut Flats", "Westhollow",
              "Whitcomb", "Willow Bend", "Wrenford", "South Eddington", "Port Alder", "Bexley Mill"]
FAR_TOWNS = ["Mesquite Flats", "Palmetto Key", "San Aurelio", "Greyhaven", "Prairie Junction",
             "Coral Shores", "Redrock Canyon", "Hudson Vale"]
STATES = {"OH": ((430, 458), [216, 330, 419, 440, 513, 614, 740, 937], 40),
          "PA": ((150, 196), [215, 412, 570, 610, 717, 724, 814], 20),
          "IN": ((460, 479), [219, 260, 317, 574, 765, 812], 15),
          "MI": ((480, 499), [231, 248, 269, 313, 517, 586, 616, 734, 810], 15),
          "KY": ((400, 427), [270, 502, 606, 859], 10)}
FAR_STATES = {"TX": ((750, 799), [214, 512, 713]), "FL": ((320, 349), [305, 407, 813]),
              "CA": ((900, 961), [213, 415, 619]), "NY": ((100, 149), [212, 518, 716]),
              "IL": ((600, 629), [312, 618, 815]), "GA": ((300, 319), [404, 706, 912])}


class Town:
    __slots__ = ("name", "state", "postcodes", "area", "weight")


def build_geo():
    g = random.Random(20240607)
    used = set()
    towns, far = [], []

    def mk(name, state, prange, areas, weight):
        t = Town()
        t.name, t.state, t.weight = name, state, weight
        t.area = g.choice(areas)
        t.postcodes = []
        for _ in range(g.choice([1, 1, 1, 2, 2, 3])):
            while True:
                pc = "%03d%02d" % (g.randint(*prange), g.randint(1, 99))
                if pc not in used:
                    used.add(pc)
                    t.postcodes.append(pc)
                    break
        return t
    st_names = list(STATES)
    st_w = [STATES[s][2] for s in st_names]
    for i, name in enumerate(TOWN_NAMES):
        s = g.choices(st_names, st_w)[0]
        towns.append(mk(name, s, STATES[s][0], STATES[s][1], 1.0 / (i % 20 + 1) ** 0.7))
    g.shuffle(towns)  # decorrelate weight from alphabetical order
    for name in FAR_TOWNS:
        s = g.choice(list(FAR_STATES))
        far.append(mk(name, s, FAR_STATES[s][0], FAR_STATES[s][1], 1.0))
    return towns, far


TOWNS, FAR = build_geo()
TOWN_W = [t.weight for t in TOWNS]

# ----------------------------------------------------------------- helpers
KEYB = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
NEIGH = {}
for _r, _row in enumerate(KEYB):
    for _c, _ch in enumerate(_row):
        nb = []
        for dr in (-1, 0, 1):
            rr = _r + dr
            if 0 <= rr < 3:
                for dc in (-1, 0, 1):
                    cc = _c + dc
                    if (dr or dc) and 0 <= cc < len(KEYB[rr]):
                        nb.append(KEYB[rr][cc])
        NEIGH[_ch] = "".join(nb)


class ZipfList:
    def __init__(self, items, s=0.9):
        self.items = items
        self.cw = []
        tot = 0.0
        for i in range(len(items)):
            tot += 1.0 / (i + 1) ** s
            self.cw.append(tot)

    def pick(self, rng):
        return rng.choices(self.items, cum_weights=self.cw)[0]


Z = {}


def zl(lst):
    k = id(lst)
    if k not in Z:
        Z[k] = ZipfList(lst)
    return Z[k]


def strip_accents(s):
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()


def accentify(s):
    return "-".join(ACCENT.get(part, part) for part in s.split("-"))


def typo(rng, s):
    pos = [i for i, c in enumerate(s) if c.isalpha()]
    if len(pos) < 3:
        return s
    for _ in range(10):
        i = rng.choice(pos) if rng.random() < 0.1 else rng.choice(pos[1:])
        c = s[i]
        low = strip_accents(c).lower() or "e"
        op = rng.choices(("sub", "del", "ins", "trans"), (40, 25, 20, 15))[0]
        if op == "sub":
            n = rng.choice(NEIGH.get(low, "aeiou"))
            n = n.upper() if c.isupper() else n
            t = s[:i] + n + s[i + 1:]
        elif op == "del":
            t = s[:i] + s[i + 1:]
        elif op == "ins":
            n = c if rng.random() < 0.5 else rng.choice(NEIGH.get(low, "aeiou"))
            t = s[:i + 1] + n.lower() + s[i + 1:]
        else:
            if i + 1 >= len(s) or not s[i + 1].isalpha():
                continue
            a, b = s[i], s[i + 1]
            if i == 0:
                a, b = a.lower(), b.upper()
            t = s[:i] + b + a + s[i + 2:]
        if t != s:
            return t
    return s


def valid_date(s):
    try:
        d = datetime.date(int(s[:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return False
    return 1900 <= d.year and d <= REF


def dob_digit_typo(rng, s):
    for _ in range(30):
        p = rng.choices(range(8), (0.2, 0.6, 2.0, 3.0, 1.5, 2.0, 1.5, 3.0))[0]
        n = str(rng.randrange(10))
        if n == s[p]:
            continue
        t = s[:p] + n + s[p + 1:]
        if valid_date(t):
            return t
    return s


def ssn_typo(rng, s):
    digits = [c for c in s if c.isdigit()]
    for _ in range(10):
        d = digits[:]
        if rng.random() < 0.7:
            i = rng.randrange(9)
            d[i] = str((int(d[i]) + rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9])) % 10)
        else:
            i = rng.randrange(8)
            d[i], d[i + 1] = d[i + 1], d[i]
        if d != digits:
            return "%s-%s-%s" % ("".join(d[:3]), "".join(d[3:5]), "".join(d[5:]))
    return s


def rand_date(rng, age):
    """A birth date for someone aged `age` on REF."""
    start = datetime.date(REF.year - age - 1, REF.month, REF.day) + datetime.timedelta(days=1)
    return start + datetime.timedelta(days=rng.randrange(365))


def adult_age(rng):
    band = rng.choices([(18, 29), (30, 44), (45, 64), (65, 79), (80, 98)], (18, 25, 32, 18, 7))[0]
    return rng.randint(*band)


class Addr:
    __slots__ = ("num", "dir", "street", "stype", "unit", "town", "postcode")


def new_addr(rng, town=None, far=False):
    a = Addr()
    if town is None:
        town = rng.choice(FAR) if far else rng.choices(TOWNS, TOWN_W)[0]
    a.town = town
    a.postcode = rng.choice(town.postcodes)
    r = rng.random()
    a.num = str(rng.randint(1, 99) if r < 0.3 else rng.randint(100, 999) if r < 0.75 else rng.randint(1000, 9999))
    a.dir = rng.choice(DIRS) if rng.random() < 0.1 else None
    a.street = rng.choice(STREET_BASE)
    a.stype = rng.choices(STREET_TYPES, [t[2] for t in STREET_TYPES])[0]
    a.unit = "%d%s" % (rng.randint(1, 30), rng.choice(["", "", "", "A", "B", "C"])) if rng.random() < 0.18 else ""
    return a


def moved_addr(rng, old):
    r = rng.random()
    if r < 0.4:
        return new_addr(rng, old.town)
    if r < 0.95:
        return new_addr(rng)
    return new_addr(rng, far=True)


def new_phone(rng, town):
    return "(%d) %d-%04d" % (town.area, rng.randint(201, 989), rng.randrange(10000))


class SSNGen:
    def __init__(self, rng):
        self.rng, self.used = rng, set()

    def fmt(self, a, g, s):
        return "%03d-%02d-%04d" % (a, g, s)

    def new(self):
        while True:
            a = self.rng.randint(1, 899)
            if a == 666:
                continue
            t = (a, self.rng.randint(1, 99), self.rng.randint(1, 9999))
            if t not in self.used:
                self.used.add(t)
                return self.fmt(*t)

    def consecutive(self, ssn):
        a, g, s = (int(x) for x in ssn.split("-"))
        t = (a, g, s + 1 if s < 9999 else s - 1)
        if t in self.used:
            return self.new()
        self.used.add(t)
        return self.fmt(*t)


class Person:
    def __init__(self):
        self.given = self.middle = self.surname = self.sex = ""
        self.dob = None
        self.ssn = ""
        self.group = "anglo"
        self.mb = 0
        self.tags = []
        self.nick_pref = None
        self.by_middle = False
        self.accented = False
        self.hh = None
        self.kin_ssn = None      # guarantor SSN (parent/husband), used by clerical slip
        self.name_tl = None      # list of (from_reg, surname)
        self.addr_tl = None
        self.phone_tl = None
        self.marry_at = None
        self.maiden = None
        self.nregs = 1
        self.suffix = ""         # 'Jr' / 'Sr'
        self.pid = None


# ----------------------------------------------------------------- population
class Builder:
    def __init__(self, rng, n):
        self.rng, self.n = rng, n
        self.people = []
        self.ssn = SSNGen(rng)
        self.hh_count = 0

    def full(self):
        return len(self.people) >= self.n

    def new_hh(self, group, surname=None, addr=None):
        self.hh_count += 1
        rng = self.rng
        h = {"id": self.hh_count, "group": group,
             "surname": surname or self.surname(group),
             "addr": addr or new_addr(rng)}
        h["phone"] = new_phone(rng, h["addr"].town)
        h["accented"] = group in ("hisp", "eu") and rng.random() < 0.35
        return h

    def surname(self, group, allow_double=True):
        rng = self.rng
        lst, share = OWN_SUR[group]
        s = zl(lst).pick(rng) if rng.random() < share else zl(ANGLO_S).pick(rng)
        if group == "anglo" and rng.random() < 0.08:
            s = zl(EU_S).pick(rng)
        if group == "hisp" and allow_double and rng.random() < 0.2:
            t = zl(HISP_S).pick(rng)
            if t != s and " " not in s and " " not in t:
                s = s + "-" + t
        return s

    def given(self, group, sex, exclude=()):
        rng = self.rng
        for _ in range(20):
            own, share = OWN_GIVEN[group]
            if own and rng.random() < share:
                lst = own[0] if sex == "m" else own[1]
            else:
                lst = ANGLO_M if sex == "m" else ANGLO_F
            if group == "anglo" and rng.random() < 0.03:
                lst = EU_M if sex == "m" else EU_F
            g = zl(lst).pick(rng)
            if g not in exclude:
                return g
        return g

    def person(self, hh, sex, dob, given=None, surname=None, exclude=()):
        rng = self.rng
        p = Person()
        p.group = hh["group"] if hh else "anglo"
        p.sex = sex
        p.dob = dob
        p.given = given or self.given(p.group, sex, exclude)
        p.surname = surname or hh["surname"]
        mid_rate = {"hisp": 0.4, "ea": 0.25, "sa": 0.25}.get(p.group, 0.7)
        if rng.random() < mid_rate:
            if rng.random() < 0.4:
                p.middle = rng.choice([m for m in (MID_M if sex == "m" else MID_F) if m != p.given])
            else:
                p.middle = self.given(p.group, sex, exclude=(p.given,))
        age = (REF - dob).days // 365
        if rng.random() < (0.93 if age >= 18 else 0.85):
            p.ssn = self.ssn.new()
        if p.given in NICK and rng.random() < 0.15:
            p.nick_pref = rng.choice(NICK[p.given])
        if p.middle and rng.random() < 0.03:
            p.by_middle = True
        p.accented = hh["accented"] if hh else False
        if hh:
            p.hh = hh["id"]
            p.addr_tl = [(0, hh["addr"])]
            p.phone_tl = [(0, hh["phone"])]
        else:
            a = new_addr(rng)
            p.addr_tl = [(0, a)]
            p.phone_tl = [(0, new_phone(rng, a.town))]
        if p.accented:
            p.given = accentify(p.given)
            p.surname = accentify(p.surname)
        self.people.append(p)
        return p

    def own_phone(self, p):
        p.phone_tl = [(0, new_phone(self.rng, p.addr_tl[0][1].town))]

    # ---- structures
    def multiple(self, k, counts):
        rng = self.rng
        group = rng.choices(GROUPS, GROUP_W)[0]
        hh = self.new_hh(group)
        age = rng.randint(0, 17) if rng.random() < 0.65 else rng.randint(18, 70)
        dob = rand_date(rng, age)
        if rng.random() < 0.3:
            if k == 2:
                t = rng.choice(SIMILAR_TWIN)
                spec = [(t[0], t[1]), (t[2], t[3])]
            else:
                t = rng.choice(SIMILAR_TRIPLET)
                spec = [(t[0], t[1]), (t[2], t[3]), (t[4], t[5])]
        else:
            if rng.random() < 0.66:
                sx = rng.choice("mf")
                sexes = [sx] * k
            else:
                sexes = [rng.choice("mf") for _ in range(k)]
                if len(set(sexes)) == 1:
                    sexes[0] = "m" if sexes[0] == "f" else "f"
            spec, used = [], set()
            for sx in sexes:
                g = self.given(group, sx, exclude=used)
                used.add(g)
                spec.append((g, sx))
        members = []
        ssn_first = None
        shared_mid = rng.random() < 0.15
        for order, (g, sx) in enumerate(spec, 1):
            p = self.person(hh, sx, dob, given=g)
            p.mb = order
            p.tags.append("twin" if k == 2 else "triplet")
            if shared_mid and members:
                p.middle = members[0].middle
            if ssn_first and p.ssn and rng.random() < 0.4:
                self.ssn.used.discard(tuple(int(x) for x in p.ssn.split("-")))
                p.ssn = self.ssn.consecutive(members[-1].ssn if members[-1].ssn else ssn_first)
            if p.ssn and not ssn_first:
                ssn_first = p.ssn
            members.append(p)
        if age >= 25:
            for p in members[1:]:
                if rng.random() < 0.4:
                    a = new_addr(rng)
                    p.addr_tl = [(0, a)]
                    self.own_phone(p)
        elif age < 18:
            self.parents(hh, members, age)
        counts["twins" if k == 2 else "triplets"] += 1

    def parents(self, hh, kids, kid_age, force=None):
        """add 0-2 parents to a household of children"""
        rng = self.rng
        r = rng.random() if force is None else force
        n = 0 if r < 0.3 else 1 if r < 0.7 else 2
        sexes = ["f", "m"][:n] if n == 2 else [rng.choice("fm")] if n == 1 else []
        for sx in sexes:
            page = kid_age + rng.randint(20, 40)
            sur = None
            if sx == "f" and rng.random() < 0.15:
                sur = self.surname(hh["group"])
            p = self.person(hh, sx, rand_date(rng, page), surname=sur)
            p.tags.append("parent")
            if rng.random() < 0.4:
                self.own_phone(p)
            for c in kids:
                if not c.kin_ssn and p.ssn:
                    c.kin_ssn = p.ssn

    def siblings(self, counts):
        rng = self.rng
        group = rng.choices(GROUPS, GROUP_W)[0]
        hh = self.new_hh(group)
        k = rng.choices([2, 3, 4], (60, 30, 10))[0]
        base_age = rng.randint(2, 40)
        ages = [base_age]
        for _ in range(k - 1):
            ages.append(ages[-1] + rng.randint(1, 6))
        ages = ages[::-1]  # oldest first
        dobs = [rand_date(rng, a) for a in ages]
        if rng.random() < 0.10:
            # two siblings whose dates differ only in one year digit
            d0 = dobs[0]
            for gap in rng.sample(range(1, 10), 9):
                y = d0.year + gap
                if sum(a != b for a, b in zip(str(d0.year), str(y))) == 1:
                    try:
                        nd = d0.replace(year=y)
                    except ValueError:
                        continue
                    if nd <= REF:
                        dobs[1] = nd
                        break
        used, kids = set(), []
        for d in dobs:
            sx = rng.choice("mf")
            p = self.person(hh, sx, d, exclude=used)
            used.add(p.given)
            p.tags.append("sibling")
            kids.append(p)
            if (REF - d).days > 365 * 22 and rng.random() < 0.5:
                p.addr_tl = [(0, new_addr(rng))]
                self.own_phone(p)
        if base_age < 25 and rng.random() < 0.5:
            self.parents(hh, kids, ages[0], force=rng.uniform(0.3, 1.0))
        counts["sibling_groups"] += 1

    def jrsr(self, counts):
        rng = self.rng
        group = rng.choices(GROUPS, [60, 15, 20, 1, 1, 3])[0]
        hh = self.new_hh(group)
        fage = rng.randint(42, 88)
        fdob = rand_date(rng, fage)
        sdob = None
        if rng.random() < 0.35:
            for gap in rng.sample([20, 30, 40], 3):
                y = fdob.year + gap
                if sum(a != b for a, b in zip(str(fdob.year), str(y))) == 1 and y <= REF.year - 1:
                    m, d = rng.randint(1, 12), rng.randint(1, 28)
                    cand = datetime.date(y, m, d)
                    if cand <= REF:
                        sdob = cand
                        break
        if sdob is None:
            sdob = rand_date(rng, max(0, fage - rng.randint(18, 42)))
        if rng.random() < 0.12:
            try:
                c = sdob.replace(month=fdob.month, day=fdob.day)
                if c <= REF:
                    sdob = c
            except ValueError:
                pass
        f = self.person(hh, "m", fdob)
        s = self.person(hh, "m", sdob, given=f.given)
        if rng.random() < 0.6:
            s.middle = f.middle
        f.tags.append("sr")
        s.tags.append("jr")
        f.suffix, s.suffix = "Sr", "Jr"
        s.kin_ssn = f.ssn or None
        if rng.random() < 0.4:
            s.addr_tl = [(0, new_addr(rng))]
            self.own_phone(s)
        if rng.random() < 0.5:
            m = self.person(hh, "f", rand_date(rng, min(98, max(18, fage + rng.randint(-6, 3)))))
            m.tags.append("parent")
        counts["jr_sr"] += 1

    def couple(self, counts):
        rng = self.rng
        group = rng.choices(GROUPS, GROUP_W)[0]
        hh = self.new_hh(group)
        hage = adult_age(rng)
        wage = min(98, max(18, hage + rng.randint(-8, 3)))
        h = self.person(hh, "m", rand_date(rng, hage))
        wsur = None if rng.random() < 0.85 else self.surname(group)
        w = self.person(hh, "f", rand_date(rng, wage), surname=wsur)
        h.tags.append("couple")
        w.tags.append("couple")
        w.kin_ssn = h.ssn or None
        if rng.random() < 0.4:
            self.own_phone(w)
        counts["couples"] += 1

    def decoy(self, counts):
        rng = self.rng
        g1, s1, g2, s2 = rng.choice(DECOY)
        if rng.random() < 0.5:
            g1, s1, g2, s2 = g2, s2, g1, s1
        group = "eu" if "Francois" in (g1, g2) else rng.choices(GROUPS, GROUP_W)[0]
        sur = self.surname(group, allow_double=False)
        sur2 = sur
        if rng.random() < 0.25 and VARIANT.get(sur):
            sur2 = rng.choice(VARIANT[sur])
        d1 = rand_date(rng, adult_age(rng) if rng.random() < 0.8 else rng.randint(0, 17))
        r = rng.random()
        if r < 0.2:
            d2 = d1
        elif r < 0.7:
            d2 = datetime.date(d1.year, rng.randint(1, 12), rng.randint(1, 28))
        else:
            d2 = datetime.date(d1.year + rng.choice([-1, 1]), rng.randint(1, 12), rng.randint(1, 28))
        if d2 > REF:
            d2 = d1
        a = self.person(self.new_hh(group, sur), s1, d1, given=g1)
        hh2 = self.new_hh(group, sur2)
        while hh2["addr"].town is a.addr_tl[0][1].town:
            hh2["addr"] = new_addr(rng)
            hh2["phone"] = new_phone(rng, hh2["addr"].town)
        b = self.person(hh2, s2, d2, given=g2)
        a.tags.append("decoy")
        b.tags.append("decoy")
        counts["decoy_pairs"] += 1

    def common(self, counts, spec):
        rng = self.rng
        g, s, sx, group = spec
        k = rng.randint(4, 10)
        y0 = REF.year - adult_age(rng) - 3
        dobs = []
        for _ in range(k):
            y = min(REF.year - 1, y0 + rng.randint(0, 5))
            dobs.append(datetime.date(y, rng.randint(1, 12), rng.randint(1, 28)))
        dobs[1] = dobs[0]
        for d in dobs:
            hh = self.new_hh(group, s)
            p = self.person(hh, sx, d, given=g)
            p.tags.append("common")
            counts["common_name_people"] += 1
        counts["common_clusters"] += 1

    def single(self, counts):
        rng = self.rng
        group = rng.choices(GROUPS, GROUP_W)[0]
        hh = self.new_hh(group)
        age = adult_age(rng) if rng.random() < 0.88 else rng.randint(0, 17)
        self.person(hh, rng.choice("mf"), rand_date(rng, age))

    def build(self):
        rng, n = self.rng, self.n
        counts = Counter()
        tasks = ([("multi", 2)] * round(0.015 * n) + [("multi", 3)] * round(0.002 * n)
                 + [("jrsr", None)] * round(0.01 * n) + [("sib", None)] * round(0.03 * n)
                 + [("couple", None)] * round(0.06 * n) + [("decoy", None)] * round(0.01 * n))
        commons = rng.sample(COMMON, min(len(COMMON), max(3, round(0.0025 * n))))
        tasks += [("common", c) for c in commons]
        rng.shuffle(tasks)
        for kind, arg in tasks:
            if self.full():
                break
            {"multi": lambda: self.multiple(arg, counts), "jrsr": lambda: self.jrsr(counts),
             "sib": lambda: self.siblings(counts), "couple": lambda: self.couple(counts),
             "decoy": lambda: self.decoy(counts), "common": lambda: self.common(counts, arg)}[kind]()
        while not self.full():
            self.single(counts)
        del self.people[n:]
        return counts


def nregs_draw(rng, at_least=1):
    while True:
        k = rng.choices([1, 2, 3, 4], (57, 32, 8, 3))[0]
        if k >= at_least:
            return k


def life_events(rng, people, n, counts):
    for p in people:
        p.nregs = nregs_draw(rng)
    # married-name changes
    cands = [p for p in people if p.sex == "f" and 20 <= (REF - p.dob).days // 365 <= 60
             and not set(p.tags) & {"twin", "triplet", "sibling", "decoy", "common", "parent"}]
    rng.shuffle(cands)
    for p in cands[:round(0.015 * n)]:
        if p.nregs < 2:
            p.nregs = nregs_draw(rng, 2)
        j = rng.randint(1, p.nregs - 1)
        married = p.surname
        if "couple" in p.tags:
            maiden = accentify_if(p, Builder.surname(_B[0], p.group, allow_double=False))
        else:
            maiden = married
            married = Builder.surname(_B[0], rng.choice([p.group, p.group, "anglo"]), allow_double=False)
            married = accentify_if(p, married)
        if maiden == married:
            continue
        if rng.random() < 0.1 and "-" not in maiden and " " not in maiden:
            married = maiden + "-" + married
        p.maiden, p.marry_at = maiden, j
        p.surname = married
        p.name_tl = [(0, maiden), (j, married)]
        cur = p.addr_tl[0][1]
        if rng.random() < 0.7:
            p.addr_tl = [(0, new_addr(rng)), (j, cur)]
        if rng.random() < 0.5:
            p.phone_tl = [(0, new_phone(rng, p.addr_tl[0][1].town)), (j, p.phone_tl[0][1])]
        p.tags.append("married")
        counts["married"] += 1
    for p in people:
        if p.nregs < 2 or p.maiden:
            continue
        j = rng.randint(1, p.nregs - 1)
        if rng.random() < 0.22:
            old = p.addr_tl[0][1]
            p.addr_tl = [(0, old), (j, moved_addr(rng, old))]
            p.tags.append("mover")
            counts["movers"] += 1
            if rng.random() < 0.6:
                p.phone_tl = [(0, p.phone_tl[0][1]), (j, new_phone(rng, p.addr_tl[1][1].town))]
                counts["phone_changes"] += 1
        elif rng.random() < 0.12:
            p.phone_tl = [(0, p.phone_tl[0][1]), (j, new_phone(rng, p.addr_tl[0][1].town))]
            counts["phone_changes"] += 1


_B = [None]


def accentify_if(p, s):
    return accentify(s) if p.accented else s


def at(tl, i):
    v = tl[0][1]
    for k, x in tl:
        if i >= k:
            v = x
    return v


# ----------------------------------------------------------------- rendering
class OrgStyle:
    def __init__(self, rng, name, idx):
        self.name, self.idx = name, idx
        self.upper = rng.random() < 0.3
        self.ascii = rng.random() < 0.5
        self.abbr = rng.choice(["abbr", "full", "mixed"])
        self.ssn_rate = rng.uniform(0.25, 0.55)
        self.phone_rate = rng.uniform(0.55, 0.85)


def render_name(style, s):
    if not s:
        return s
    if style.ascii:
        s = strip_accents(s)
    return s.upper() if style.upper else s


def render(rng, p, i, org, counts):
    st = org
    # ---------- surname
    sur = at(p.name_tl, i) if p.name_tl else p.surname
    former = ""
    if p.maiden and i >= p.marry_at and rng.random() < 0.35:
        former = p.maiden
    if "-" in sur and " " not in sur:
        a, b = sur.split("-", 1)
        r = rng.random()
        if r < 0.25:
            sur = a
        elif r < 0.32:
            sur = b
        elif r < 0.45:
            sur = a + " " + b
    if "'" in sur and rng.random() < 0.4:
        sur = sur.replace("'", "" if rng.random() < 0.75 else " ")
    if " " in sur and sur.split()[0].lower() in ("de", "del", "van", "di") and rng.random() < 0.3:
        sur = sur.replace(" ", "")
        sur = sur[0].upper() + sur[1:].lower()
    if rng.random() < 0.02 and VARIANT.get(strip_accents(sur)):
        sur = rng.choice(VARIANT[strip_accents(sur)])
    if rng.random() < 0.03:
        sur = typo(rng, sur)
    if p.suffix and rng.random() < (0.10 if p.suffix == "Jr" else 0.05):
        sur = sur + " " + p.suffix
    # ---------- given / middle
    g, mid = p.given, p.middle
    plain = strip_accents(g)
    if p.by_middle and rng.random() < 0.7:
        g, mid = p.middle, rng.choice(["", g[0], g])
    elif p.middle and rng.random() < 0.005:
        g, mid = p.middle, ""
    elif p.nick_pref and rng.random() < 0.6:
        g = p.nick_pref
    elif plain in NICK and rng.random() < 0.04:
        g = rng.choice(NICK[plain])
    if rng.random() < 0.03 and VARIANT.get(strip_accents(g)):
        g = rng.choice(VARIANT[strip_accents(g)])
    if rng.random() < 0.04:
        g = typo(rng, g)
    if rng.random() < 0.02:
        g = g[0] + ("." if rng.random() < 0.5 else "")
    r = rng.random()
    if mid and mid == p.middle:
        mid = mid if r < 0.4 else mid[0] if r < 0.6 else ""
    elif mid and r < 0.4:
        mid = ""
    if rng.random() < (0.04 if p.group == "ea" else 0.015):
        g, sur = sur, g
        counts["swapped_rows"] += 1
    # ---------- sex / dob
    sex = p.sex
    r = rng.random()
    if r < 0.02:
        sex = ""
    elif r < 0.024:
        sex = "m" if sex == "f" else "f"
    dob = p.dob.strftime("%Y%m%d")
    r = rng.random()
    if r < 0.015:
        dob = ""
    elif r < 0.04:
        dob = dob_digit_typo(rng, dob)
    elif r < 0.052 and p.dob.day <= 12 and p.dob.day != p.dob.month:
        dob = "%04d%02d%02d" % (p.dob.year, p.dob.day, p.dob.month)
    # ---------- ssn
    ssn = ""
    if rng.random() < st.ssn_rate:
        if p.ssn:
            ssn = p.ssn
            if rng.random() < 0.03:
                ssn = ssn_typo(rng, ssn)
        if p.kin_ssn and rng.random() < 0.01:
            ssn = p.kin_ssn
            counts["guarantor_ssn_rows"] += 1
    if rng.random() < 0.002:
        ssn = "999-99-9999"
    # ---------- phone
    phone = ""
    if rng.random() < st.phone_rate:
        phone = at(p.phone_tl, i)
        if rng.random() < 0.015:
            k = rng.choice([1, 2, 3, 6, 7, 8, 10, 11, 12, 13])
            phone = phone[:k] + str((int(phone[k]) + rng.randint(1, 9)) % 10) + phone[k + 1:]
    # ---------- address
    a = at(p.addr_tl, i)
    num = a1 = a2 = sub = pc = state = ""
    if rng.random() < 0.12:
        if rng.random() < 0.3:
            state = a.town.state
    else:
        num = a.num
        r = rng.random()
        if r < 0.03:
            num = ""
        elif r < 0.045:
            num = typo_digits(rng, num)
        mode = st.abbr if st.abbr != "mixed" else rng.choice(["abbr", "full"])
        parts = []
        if a.dir:
            parts.append(a.dir[1] if mode == "abbr" else a.dir[0])
        parts.append(a.street)
        parts.append(a.stype[1] if mode == "abbr" else a.stype[0])
        a1 = " ".join(parts)
        if rng.random() < 0.03:
            a1 = typo(rng, a1)
        if a.unit and rng.random() < 0.7:
            a2 = rng.choice(["Apt ", "Apt. ", "#", "Unit "]) + a.unit
        sub = a.town.name
        r = rng.random()
        if r < 0.04:
            sub = ""
        elif r < 0.06:
            sub = typo(rng, sub)
        pc = a.postcode
        r = rng.random()
        if r < 0.04:
            pc = ""
        elif r < 0.05:
            pc = typo_digits(rng, pc)
        state = "" if rng.random() < 0.03 else a.town.state
        if st.upper:
            a1, a2, sub = a1.upper(), a2.upper(), sub.upper()
    mb = str(p.mb) if p.mb and rng.random() < 0.35 else ""
    return [render_name(st, g), render_name(st, mid), render_name(st, sur), render_name(st, former),
            sex, num, a1, a2, sub, pc, state, dob, ssn, phone, mb]


def typo_digits(rng, s):
    i = rng.randrange(len(s))
    if rng.random() < 0.3 and len(s) > 1:
        j = min(i, len(s) - 2)
        t = s[:j] + s[j + 1] + s[j] + s[j + 2:]
        if t != s:
            return t
    return s[:i] + str((int(s[i]) + rng.randint(1, 9)) % 10) + s[i + 1:]


# ----------------------------------------------------------------- main
def generate(seed, n, n_orgs):
    rng = random.Random(seed)
    orgs = [OrgStyle(rng, "org-" + chr(ord("a") + i) if i < 26 else "org-%d" % i, i)
            for i in range(n_orgs)]
    b = Builder(rng, n)
    _B[0] = b
    counts = b.build()
    people = b.people
    life_events(rng, people, n, counts)
    ids = list(range(1, len(people) + 1))
    rng.shuffle(ids)
    for p, pid in zip(people, ids):
        p.pid = pid
    hh_org = {}
    rows = []
    for p in people:
        if p.hh not in hh_org:
            hh_org[p.hh] = rng.randrange(n_orgs)
        k = p.nregs
        first = hh_org[p.hh] if rng.random() < 0.6 else rng.randrange(n_orgs)
        others = [o for o in range(n_orgs) if o != first]
        rng.shuffle(others)
        seq = [first] + others
        while len(seq) < k:
            seq.append(rng.randrange(n_orgs))
        seq = seq[:k]
        if k >= 2 and rng.random() < 0.05:
            seq[rng.randrange(1, k)] = seq[0] if rng.random() < 0.5 else seq[rng.randrange(1, k)]
            counts["same_org_twice"] += 1
        for i, o in enumerate(seq):
            vals = render(rng, p, i, orgs[o], counts)
            rows.append(["rec-%d-%d-%d" % (p.pid, o, i), orgs[o].name] + vals)
    rng.shuffle(rows)
    tagc = Counter(t for p in people for t in p.tags)
    counts["hyphenated_people"] = sum(1 for p in people if "-" in strip_accents(p.surname).replace("Jean-Baptiste", ""))
    counts["multi_reg_people"] = sum(1 for p in people if p.nregs >= 2)
    counts["twin_people"] = tagc["twin"]
    counts["triplet_people"] = tagc["triplet"]
    return rows, counts, people


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True, help="generator seed (any integer)")
    ap.add_argument("--people", type=int, default=4000,
                    help="distinct people, 1 to 1000000 (default 4000)")
    ap.add_argument("--orgs", type=int, default=5,
                    help="practices org-a, org-b, ..., 1 to 26 (default 5)")
    ap.add_argument("--out", required=True, help="where to write the CSV")
    a = ap.parse_args()
    if not 1 <= a.people <= 1000000:
        ap.error("--people: want 1 to 1000000, got %d" % a.people)
    if not 1 <= a.orgs <= 26:
        ap.error("--orgs: want 1 to 26, got %d" % a.orgs)
    # Open first: a path that cannot be written is told before the set is built.
    try:
        f = open(a.out, "w", encoding="utf-8", newline="\n")
    except OSError as e:
        sys.exit("mpi_clinic_set_b: %s: cannot write: %s" % (a.out, e.strerror))
    rows, c, people = generate(a.seed, a.people, a.orgs)
    for r in rows:
        for v in r:
            if "," in v or "\n" in v or '"' in v:
                f.close()
                os.remove(a.out)
                sys.exit("mpi_clinic_set_b: a value the CSV cannot hold unquoted: %r" % v)
    with f:
        f.write(HEADER + "\n")
        for r in rows:
            f.write(",".join(r) + "\n")
    keys = ["twins", "triplets", "jr_sr", "sibling_groups", "couples", "married", "movers",
            "phone_changes", "decoy_pairs", "common_clusters", "common_name_people",
            "hyphenated_people", "same_org_twice", "swapped_rows", "guarantor_ssn_rows"]
    print("seed=%d people=%d rows=%d regs/person=%.3f multi_reg_people=%d %s" % (
        a.seed, len(people), len(rows), len(rows) / len(people), c["multi_reg_people"],
        " ".join("%s=%d" % (k, c[k]) for k in keys)), file=sys.stderr)


if __name__ == "__main__":
    main()
