"""Realistic demo clinical notes the project makes itself, with planted identifiers.

Nothing here comes from real patients: the clinical content is drawn from
hand-written phrase banks per specialty, and the identifiers (names, MRNs,
phones, e-mails, dates, hospitals, referring doctors with NPIs) come from
Faker and a numpy Generator. A share of the notes carries identifiers on
purpose, and each row keeps a structured record of what was planted
(``row["planted"]``) so tests and audits can check that a release never
replays them.

Output is deterministic for a given seed (and a given Faker version: Faker's
name lists may change between releases).

    python -m smotext_private.demo --out data/demo_notes.csv --per-class 60 --seed 0
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import json
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from smotext_private.audit.templates import expand_alternatives
from smotext_private.errors import InputError

# The wording of the notes' five forms, for ``--templates`` (see smotext_private/audit/templates.py).
DEMO_TEMPLATES = Path(__file__).parent.parent / "assets" / "demo_templates.txt"

MIN_WORDS = 25
MAX_WORDS = 70

NOTE_TYPES = ("clinic_note", "triage_message", "referral_letter", "follow_up", "discharge_summary")

# Identifier kinds that may be planted, in the order a header lists them.
IDENTIFIER_KINDS = (
    "name", "mrn", "dob", "age", "date_of_service", "phone", "email", "hospital", "ward", "referring_doctor", "npi",
)

# Number placeholders: name -> (low, high) for integers or (low, high, decimals) for decimals, both inclusive.
_RANGES: dict[str, tuple] = {
    "sbp": (98, 178), "dbp": (56, 104), "hr": (48, 124), "spo2": (86, 99), "rr": (12, 28), "temp": (36.2, 39.4, 1),
    "bmi": (18.5, 42.0, 1), "a1c": (5.4, 11.2, 1), "egfr": (28, 110), "hgb": (8.1, 16.2, 1), "wbc": (3.2, 18.4, 1),
    "crp": (1, 180), "plt": (96, 420), "k": (3.1, 5.6, 1), "trop": (3, 90), "ldl": (58, 198), "ef": (20, 65),
    "bnp": (35, 2400), "qtc": (400, 495), "fev1": (38, 96), "ratio": (0.48, 0.82, 2), "pef": (180, 520),
    "ahi": (6, 68), "epworth": (8, 22), "walk": (150, 520), "alt": (12, 240), "ast": (14, 210), "bili": (0.3, 4.8, 1),
    "lipase": (18, 900), "ferritin": (6, 420), "calpro": (30, 1200), "inr": (0.9, 3.4, 1), "moca": (14, 30),
    "b12": (140, 900), "hdays": (2, 28), "pain": (2, 9), "deg": (40, 140), "lesion": (3, 22), "bsa": (2, 40),
    "pasi": (3.0, 28.0, 1), "years": (1, 25), "packs": (5, 60), "epi_age": (8, 30), "pd_years": (2, 9),
    "hcv_year": (2012, 2021),
}

# Phrase banks. "{a|b|c}" picks one alternative; "{name}" draws a number from _RANGES.
# Each specialty has a few problems (complaints, findings, meds, plans that belong together) plus
# background history, general findings and general plans that suit any of its problems.
SPECIALTIES: dict[str, dict] = {
    "cardiology": {
        "history": (
            "hypertension", "type 2 diabetes (A1c {a1c}%)", "hyperlipidemia", "former smoker, {packs} pack-years",
            "CKD stage {2|3a|3b}", "family history of premature coronary disease", "obesity, BMI {bmi}",
        ),
        "findings": ("BP {sbp}/{dbp}, HR {hr}", "K {k}, eGFR {egfr}", "LDL {ldl} mg/dL", "BMI {bmi}"),
        "plans": ("cardiology follow-up in {2|4|6} weeks", "repeat lipid panel in {6|8|12} weeks", "BMP in one week"),
        "problems": (
            {
                "complaints": ("exertional chest pressure", "chest tightness radiating to the left arm",
                               "chest discomfort walking uphill"),
                "findings": ("ECG with {nonspecific ST changes|T-wave inversion in V4-V6|no acute changes}",
                             "high-sensitivity troponin {trop} ng/L", "prior NSTEMI with a stent to the LAD"),
                "meds": ("aspirin 81 mg daily", "atorvastatin {40|80} mg nightly", "metoprolol succinate {25|50} mg daily",
                         "nitroglycerin 0.4 mg SL as needed", "clopidogrel 75 mg daily"),
                "plans": ("exercise treadmill stress test", "coronary CT angiography", "uptitrate metoprolol as BP allows"),
            },
            {
                "complaints": ("intermittent palpitations", "a racing heartbeat at night", "fluttering in the chest after coffee"),
                "findings": ("HR {hr}, irregularly irregular", "ECG with {atrial fibrillation|frequent PVCs|first-degree AV block}",
                             "QTc {qtc} ms", "TSH {0.2|1.4|2.8} mIU/L"),
                "meds": ("apixaban {2.5|5} mg twice daily", "metoprolol succinate {50|100} mg daily", "diltiazem {120|180} mg daily"),
                "plans": ("{24|48}-hour Holter monitor", "CHA2DS2-VASc reviewed, anticoagulation started", "discuss referral for ablation"),
            },
            {
                "complaints": ("dyspnea on exertion", "bilateral ankle swelling", "orthopnea needing {2|3|4} pillows",
                               "reduced exercise tolerance"),
                "findings": ("echo EF {ef}% with {mild|moderate} mitral regurgitation", "NT-proBNP {bnp} pg/mL",
                             "{1+|2+|3+} pitting edema to the {ankles|mid-shins|knees}", "JVP {8|10|12} cm", "bibasilar crackles"),
                "meds": ("furosemide {20|40|80} mg daily", "sacubitril/valsartan {24/26|49/51} mg twice daily",
                         "spironolactone 25 mg daily", "dapagliflozin 10 mg daily"),
                "plans": ("transthoracic echocardiogram", "daily weights, call if gain over 2 kg in 3 days",
                          "low-sodium diet under 2 g per day"),
            },
            {
                "complaints": ("presyncope on standing", "an episode of fainting at church", "dizziness with exertion"),
                "findings": ("orthostatic drop to {sbp}/{dbp}", "grade {2|3}/6 systolic murmur at the right upper sternal border",
                             "ECG with {sinus bradycardia|left bundle branch block|LVH by voltage}"),
                "meds": ("lisinopril {5|10|20} mg daily", "amlodipine {5|10} mg daily", "hydrochlorothiazide 25 mg daily"),
                "plans": ("transthoracic echocardiogram", "tilt table test", "hold the diuretic and recheck orthostatics"),
            },
        ),
    },
    "pulmonology": {
        "history": (
            "current smoker, {packs} pack-years", "former smoker, {packs} pack-years", "seasonal allergies",
            "occupational dust exposure as a {miner|welder|stonemason}", "GERD", "obesity, BMI {bmi}", "recurrent pneumonia",
        ),
        "findings": ("SpO2 {spo2}% on room air", "RR {rr}, temp {temp} C", "HR {hr}"),
        "plans": ("influenza and pneumococcal vaccines", "pulmonology review in {4|6|8} weeks",
                  "smoking cessation counseling with nicotine patch"),
        "problems": (
            {
                "complaints": ("wheezing at night", "using the rescue inhaler {3|4|5} times a day", "chest tightness in cold air"),
                "findings": ("peak flow {pef} L/min", "expiratory wheeze bilaterally", "FEV1 {fev1}% predicted with bronchodilator response",
                             "eosinophils {150|300|450|600}/uL"),
                "meds": ("budesonide/formoterol {80/4.5|160/4.5} two puffs twice daily", "albuterol 90 mcg two puffs as needed",
                         "montelukast 10 mg nightly", "prednisone 40 mg daily for 5 days"),
                "plans": ("inhaler technique review", "written asthma action plan", "spirometry with bronchodilator"),
            },
            {
                "complaints": ("progressive shortness of breath", "breathlessness climbing one flight of stairs",
                               "a morning cough with sputum"),
                "findings": ("FEV1 {fev1}% predicted, FEV1/FVC {ratio}", "CT chest with centrilobular emphysema",
                             "6-minute walk {walk} m with desaturation to {spo2}%", "hyperinflation on chest X-ray"),
                "meds": ("tiotropium 18 mcg inhaled daily", "fluticasone/salmeterol {250/50|500/50} twice daily",
                         "azithromycin 250 mg three times weekly", "home oxygen {1|2|3} L/min"),
                "plans": ("full pulmonary function tests", "pulmonary rehabilitation referral", "ambulatory oxygen assessment"),
            },
            {
                "complaints": ("productive cough with green sputum", "fever and pleuritic chest pain", "cough and chills"),
                "findings": ("crackles at the {left|right} base", "chest X-ray with {right lower lobe consolidation|left basal consolidation|a small effusion}",
                             "WBC {wbc}, CRP {crp} mg/L", "procalcitonin {0.3|0.8|1.6|4.2} ng/mL"),
                "meds": ("amoxicillin/clavulanate 875 mg twice daily", "doxycycline 100 mg twice daily for 7 days",
                         "azithromycin 500 mg daily for 3 days"),
                "plans": ("sputum culture", "repeat chest X-ray in {6|8} weeks", "return if SpO2 falls below 92%"),
            },
            {
                "complaints": ("loud snoring and daytime sleepiness", "witnessed pauses in breathing at night",
                               "morning headaches and unrefreshing sleep"),
                "findings": ("AHI {ahi} events per hour", "Epworth score {epworth}", "neck circumference {40|43|46} cm",
                             "oxygen nadir {78|82|85}% overnight"),
                "meds": ("CPAP at {8|10|12} cm H2O", "auto-CPAP 5-15 cm H2O"),
                "plans": ("overnight polysomnography", "CPAP titration", "weight management referral"),
            },
            {
                "complaints": ("streaks of blood in the sputum", "a dry cough for months", "an incidental lung nodule"),
                "findings": ("a {lesion} mm nodule in the right upper lobe", "CT chest with {ground-glass opacities|traction bronchiectasis|mediastinal adenopathy}",
                             "DLCO {42|55|61|70}% predicted", "fine bibasilar crackles"),
                "meds": ("nintedanib 150 mg twice daily", "benzonatate 100 mg three times daily as needed"),
                "plans": ("repeat CT chest in {3|6|12} months", "bronchoscopy with BAL", "PET-CT", "multidisciplinary ILD review"),
            },
        ),
    },
    "dermatology": {
        "history": (
            "fair skin with many blistering sunburns", "seasonal allergies", "type 2 diabetes", "kidney transplant on tacrolimus",
            "family history of melanoma", "outdoor work for {years} years", "hypothyroidism",
        ),
        "findings": ("Fitzpatrick type {I|II|III|IV}", "no palpable lymphadenopathy", "remainder of skin exam unremarkable"),
        "plans": ("daily SPF 50 sunscreen", "dermatology review in {4|8|12} weeks", "full skin exam in {6|12} months"),
        "problems": (
            {
                "complaints": ("a changing mole on the {back|left shoulder|right calf|scalp}", "a dark spot that bled",
                               "a new mole that itches"),
                "findings": ("{lesion} mm asymmetric pigmented lesion with irregular borders",
                             "dermoscopy with {an atypical network|a blue-white veil|regression structures}", "ugly duckling sign"),
                "meds": ("hydrocortisone 1% cream for the itch", "mupirocin ointment to the biopsy site"),
                "plans": ("excisional biopsy with {2|3} mm margins", "photographs for mole mapping", "sentinel node discussion if invasive"),
            },
            {
                "complaints": ("a non-healing lesion on the {nose|ear|lower lip|forehead}", "a crusted bump on the {scalp|hand|cheek}"),
                "findings": ("pearly papule with telangiectasia, {lesion} mm", "dermoscopy with arborizing vessels",
                             "rough keratotic papules on the {forearms|scalp}"),
                "meds": ("fluorouracil 5% cream twice daily for 3 weeks", "imiquimod 5% cream 5 nights weekly"),
                "plans": ("shave biopsy", "Mohs surgery referral", "cryotherapy", "excision with {4|5} mm margins"),
            },
            {
                "complaints": ("scaly plaques on the elbows and knees", "an itchy rash on both {forearms|shins|hands}",
                               "flaking on the scalp and behind the ears"),
                "findings": ("erythematous plaques with silvery scale over {bsa}% BSA", "PASI {pasi}", "nail pitting",
                             "lichenified patches with excoriations"),
                "meds": ("clobetasol 0.05% ointment twice daily for 2 weeks", "triamcinolone 0.1% cream twice daily",
                         "methotrexate {10|15} mg weekly with folic acid", "adalimumab 40 mg every other week",
                         "dupilumab 300 mg every two weeks"),
                "plans": ("narrowband UVB three times weekly", "baseline LFTs and CBC", "patch testing", "TB screening before biologic"),
            },
            {
                "complaints": ("persistent acne with scarring", "painful cysts on the jaw", "breakouts worse before periods"),
                "findings": ("inflammatory papules and pustules on the cheeks", "{3|5|8} nodules on the jawline",
                             "rolling scars on both cheeks"),
                "meds": ("doxycycline 100 mg daily", "tretinoin 0.025% cream nightly", "isotretinoin {20|40} mg daily",
                         "spironolactone {50|100} mg daily", "benzoyl peroxide 5% wash"),
                "plans": ("pregnancy test and iPLEDGE enrollment", "baseline lipids and LFTs", "review in 8 weeks for response"),
            },
            {
                "complaints": ("hives after {penicillin|shellfish|exercise}", "itchy welts that come and go",
                               "painful nodules in the armpits"),
                "findings": ("urticarial wheals on the trunk", "dermographism", "{2|3|4} draining sinus tracts in the axillae",
                             "tense bullae on an erythematous base"),
                "meds": ("cetirizine {10|20} mg daily", "hydroxyzine 25 mg at bedtime", "clindamycin 1% lotion twice daily"),
                "plans": ("allergy referral", "epinephrine autoinjector prescribed", "punch biopsy for direct immunofluorescence"),
            },
        ),
    },
    "orthopedics": {
        "history": (
            "osteoarthritis", "heavy manual work", "running {20|30|40} km per week", "obesity, BMI {bmi}",
            "type 2 diabetes", "rheumatoid arthritis", "osteoporosis",
        ),
        "findings": ("pain {pain}/10", "gait {antalgic|normal}", "neurovascularly intact distally"),
        "plans": ("orthopedic review in {2|4|6} weeks", "physical therapy {2|3} times weekly for {6|8} weeks",
                  "activity modification and ice"),
        "problems": (
            {
                "complaints": ("right knee pain after a twisting injury", "clicking and locking of the {left|right} knee",
                               "knee swelling after soccer"),
                "findings": ("effusion with a positive {McMurray|Lachman|anterior drawer} test", "flexion to {deg} degrees",
                             "tenderness over the medial joint line", "MRI with a {medial|lateral} meniscus tear"),
                "meds": ("naproxen 500 mg twice daily with food", "ibuprofen {400|600} mg as needed"),
                "plans": ("MRI of the knee", "arthroscopic meniscectomy", "hinged knee brace"),
            },
            {
                "complaints": ("left hip pain worse on stairs", "groin pain and stiffness in the morning",
                               "knee pain limiting walking to {1|2|3} blocks"),
                "findings": ("X-ray with joint space narrowing and osteophytes", "internal rotation limited to {10|15|20} degrees",
                             "tenderness over the greater trochanter"),
                "meds": ("acetaminophen 1 g three times daily", "meloxicam {7.5|15} mg daily", "diclofenac 1% gel four times daily"),
                "plans": ("corticosteroid injection", "discuss total joint arthroplasty", "weight loss counseling"),
            },
            {
                "complaints": ("low back pain radiating down the {left|right} leg", "neck stiffness with tingling down the arm",
                               "back pain after lifting a box"),
                "findings": ("straight leg raise positive at {30|45|60} degrees", "{reduced|absent|normal} Achilles reflex",
                             "MRI with {an L4-L5 disc herniation|L5-S1 foraminal stenosis|C5-C6 foraminal narrowing}",
                             "strength {4|4+|5-}/5 in ankle dorsiflexion"),
                "meds": ("cyclobenzaprine 5 mg at bedtime", "gabapentin {100|300} mg three times daily",
                         "tramadol 50 mg every 6 hours as needed"),
                "plans": ("MRI of the lumbar spine", "epidural steroid injection", "spine surgery opinion if weakness progresses"),
            },
            {
                "complaints": ("wrist pain after a fall on an outstretched hand", "wrist swelling after a bike fall"),
                "findings": ("tenderness over the anatomic snuffbox", "X-ray with {a nondisplaced distal radius fracture|no acute fracture}",
                             "grip strength reduced on the {left|right}"),
                "meds": ("acetaminophen 1 g as needed", "ibuprofen 400 mg three times daily"),
                "plans": ("short arm cast for {4|6} weeks", "repeat X-ray in 2 weeks", "DEXA scan", "scaphoid MRI if still tender"),
            },
            {
                "complaints": ("ankle swelling after an inversion injury", "foot pain after a misstep off a curb"),
                "findings": ("tenderness over the {lateral malleolus|fifth metatarsal base}", "Ottawa ankle rules positive",
                             "X-ray with {no acute fracture|a fifth metatarsal base fracture|an avulsion fragment at the fibula tip}"),
                "meds": ("acetaminophen 1 g as needed", "naproxen 500 mg twice daily"),
                "plans": ("walking boot, weight bearing as tolerated", "repeat X-ray in 2 weeks", "balance exercises"),
            },
            {
                "complaints": ("numbness in the thumb and index finger at night", "heel pain with the first steps in the morning",
                               "shoulder pain reaching overhead"),
                "findings": ("positive Phalen and Tinel signs", "tenderness at the plantar fascia insertion",
                             "painful arc with positive Neer test", "strength {4|4+}/5 in shoulder abduction"),
                "meds": ("naproxen 500 mg twice daily", "vitamin D3 {1000|2000} IU daily"),
                "plans": ("night splint", "nerve conduction studies", "subacromial injection", "MRI of the shoulder"),
            },
        ),
    },
    "gastroenterology": {
        "history": (
            "GERD", "alcohol use, {10|20|30} drinks a week", "a prior cholecystectomy", "daily NSAID use",
            "family history of colon cancer", "obesity, BMI {bmi}", "type 2 diabetes",
        ),
        "findings": ("abdomen soft and nondistended", "BMI {bmi}", "Hgb {hgb} g/dL"),
        "plans": ("GI follow-up in {4|6|8} weeks", "iron studies and celiac serology", "CT abdomen and pelvis with contrast"),
        "problems": (
            {
                "complaints": ("epigastric burning after meals", "nausea and early satiety", "heartburn waking at night"),
                "findings": ("epigastric tenderness without guarding", "stool H. pylori antigen {positive|negative}",
                             "no alarm features"),
                "meds": ("omeprazole {20|40} mg daily before breakfast", "pantoprazole 40 mg twice daily", "famotidine 20 mg at bedtime"),
                "plans": ("upper endoscopy", "H. pylori triple therapy", "avoid late meals and NSAIDs"),
            },
            {
                "complaints": ("intermittent rectal bleeding", "loose stools {4|6|8} times a day", "cramping with urgency"),
                "findings": ("fecal calprotectin {calpro} ug/g", "CRP {crp} mg/L", "mild LLQ tenderness",
                             "flexible sigmoidoscopy with {mild|moderate} proctitis"),
                "meds": ("mesalamine {2.4|4.8} g daily", "budesonide 9 mg daily", "infliximab 5 mg/kg every 8 weeks",
                         "prednisone 40 mg daily with taper"),
                "plans": ("colonoscopy with biopsies", "stool culture and C. difficile testing", "TB and hepatitis B screening"),
            },
            {
                "complaints": ("right upper quadrant pain after fatty meals", "yellowing of the eyes", "dark urine and itching"),
                "findings": ("ALT {alt}, AST {ast} U/L", "total bilirubin {bili} mg/dL", "positive Murphy sign",
                             "ultrasound with {gallstones and wall thickening|a dilated common bile duct|hepatic steatosis}",
                             "INR {inr}, platelets {plt}"),
                "meds": ("ursodiol {300|500} mg twice daily", "ondansetron 4 mg as needed"),
                "plans": ("MRCP", "repeat LFTs in {2|4} weeks", "hepatology referral", "surgical referral for cholecystectomy"),
            },
            {
                "complaints": ("black tarry stools", "unintentional weight loss of {3|5|8} kg", "fatigue with a low blood count"),
                "findings": ("ferritin {ferritin} ng/mL", "FIT {positive|negative}", "BUN {24|31|45} mg/dL", "pale conjunctivae"),
                "meds": ("ferrous sulfate 325 mg every other day", "pantoprazole 40 mg IV twice daily"),
                "plans": ("upper endoscopy", "colonoscopy", "transfuse if Hgb under 7"),
            },
            {
                "complaints": ("chronic constipation and bloating", "difficulty swallowing solids", "alternating diarrhea and constipation"),
                "findings": ("lipase {lipase} U/L", "mild RLQ tenderness", "TSH {0.8|1.9|3.2} mIU/L", "normal digital rectal exam"),
                "meds": ("polyethylene glycol 17 g daily", "linaclotide {72|145} mcg daily", "dicyclomine 20 mg before meals"),
                "plans": ("low FODMAP diet trial", "barium swallow", "anorectal manometry"),
            },
        ),
    },
    "neurology": {
        "history": (
            "hypertension", "type 2 diabetes", "atrial fibrillation", "depression", "a head injury in a car accident",
            "hyperlipidemia", "former smoker, {packs} pack-years",
        ),
        "findings": ("BP {sbp}/{dbp}", "cranial nerves intact", "B12 {b12} pg/mL"),
        "plans": ("neurology review in {4|8|12} weeks", "B12 and TSH", "MRI brain with contrast"),
        "problems": (
            {
                "complaints": ("recurrent throbbing headaches with nausea", "headaches with flashing lights beforehand",
                               "daily headaches"),
                "findings": ("{hdays} headache days per month", "normal fundi", "no focal deficits"),
                "meds": ("sumatriptan 50 mg at onset", "topiramate {25|50} mg twice daily", "propranolol {40|80} mg daily",
                         "amitriptyline {10|25} mg at bedtime"),
                "plans": ("headache diary", "CGRP antagonist if no improvement", "limit analgesics to 2 days a week"),
            },
            {
                "complaints": ("a blackout with tongue biting", "episodes of staring and lip smacking", "a first seizure at work"),
                "findings": ("EEG with {left temporal sharp waves|generalized spike-wave discharges|no epileptiform activity}",
                             "prolactin {18|32|45} ng/mL", "lateral tongue laceration"),
                "meds": ("levetiracetam {500|750|1000} mg twice daily", "lamotrigine {50|100} mg twice daily"),
                "plans": ("routine EEG", "driving restriction discussed", "sleep-deprived EEG"),
            },
            {
                "complaints": ("tremor of the {right|left} hand", "slowness and shuffling gait", "falls when turning"),
                "findings": ("resting tremor with cogwheel rigidity", "reduced arm swing on the {left|right}",
                             "UPDRS motor score {18|24|31|38}"),
                "meds": ("carbidopa/levodopa 25/100 mg three times daily", "pramipexole 0.25 mg three times daily"),
                "plans": ("physical therapy for gait", "DaTscan", "home safety assessment"),
            },
            {
                "complaints": ("a {left|right} facial droop that resolved within an hour", "sudden arm weakness lasting minutes",
                               "transient loss of vision in one eye"),
                "findings": ("NIHSS {0|1|2|3}", "pronator drift on the {left|right}",
                             "MRI brain with {an old right frontal infarct|no acute abnormality|small vessel disease}",
                             "carotid stenosis {40|60|75}% on the {left|right}"),
                "meds": ("aspirin 81 mg daily", "clopidogrel 75 mg daily", "atorvastatin 80 mg nightly", "apixaban 5 mg twice daily"),
                "plans": ("carotid duplex ultrasound", "30-day cardiac event monitor", "vascular surgery referral"),
            },
            {
                "complaints": ("numbness and tingling in both feet", "memory lapses noticed by family",
                               "spinning dizziness when turning in bed", "word-finding difficulty"),
                "findings": ("MoCA {moca}/30", "reduced vibration sense to the {ankles|knees}", "Romberg {positive|negative}",
                             "Dix-Hallpike positive to the {right|left}"),
                "meds": ("gabapentin {300|600} mg three times daily", "donepezil {5|10} mg nightly", "meclizine 25 mg as needed"),
                "plans": ("nerve conduction studies and EMG", "neuropsychological testing", "Epley maneuver done in clinic"),
            },
        ),
    },
}

# A dermatology admission is rare; the other note types suit every specialty.
_NOTE_TYPES_BY_SPECIALTY = {"dermatology": NOTE_TYPES[:4]}

_DURATIONS = ("{2|3|4|5} days", "{1|2|3} weeks", "{2|3|4|6} months", "{9|12|18} months")
_FILLERS = (
    "Denies fever or weight loss.", "No known drug allergies.", "Lives with family, independent in daily activities.",
    "Questions answered; patient agrees with the plan.", "Return precautions reviewed.", "Nonsmoker, drinks socially.",
)

# Planting rates: the share of notes that carry identifiers, then each kind's chance within such a note.
_KIND_RATES = {
    "name": 0.8, "mrn": 0.55, "dob": 0.4, "date_of_service": 0.45, "phone": 0.3, "email": 0.2,
    "hospital": 0.3, "ward": 0.15, "referring_doctor": 0.25, "age": 0.1,
}
_MAX_KINDS = 6
_TOKEN = re.compile(r"\{([^{}]+)\}")


# -- small helpers -----------------------------------------------------------------------------
def _pick(rng: np.random.Generator, items: Sequence):
    return items[int(rng.integers(len(items)))]


def _fill(template: str, rng: np.random.Generator) -> str:
    """Replace each ``{a|b}`` with one alternative and each ``{name}`` with a number from ``_RANGES``."""

    def one(m: re.Match) -> str:
        body = m.group(1)
        if "|" in body:
            return _pick(rng, body.split("|"))
        spec = _RANGES[body]
        if len(spec) == 2:
            return str(int(rng.integers(spec[0], spec[1] + 1)))
        lo, hi, dec = spec
        return f"{rng.uniform(lo, hi):.{dec}f}"

    return _TOKEN.sub(one, template)


def _join(items: Sequence[str], rng: np.random.Generator) -> str:
    if len(items) == 1:
        return items[0]
    if rng.random() < 0.5:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return "; ".join(items)


def _words(text: str) -> int:
    return len(text.split())


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _npi(rng: np.random.Generator) -> str:
    """A 10-digit NPI with a valid Luhn check digit (prefix 80840, as the NPI standard defines)."""
    body = [int(rng.integers(1, 3))] + [int(d) for d in rng.integers(0, 10, size=8)]
    digits = [8, 0, 8, 4, 0] + body
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # these are doubled once the check digit is appended
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    check = (10 - total % 10) % 10
    return "".join(map(str, body)) + str(check)


def _phone(rng: np.random.Generator) -> str:
    area, exch, line = int(rng.integers(201, 990)), int(rng.integers(201, 1000)), int(rng.integers(0, 10000))
    fmt = _pick(rng, ("({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}"))
    return fmt.format(a=area, e=exch, l=f"{line:04d}")


def _date(d: _dt.date, rng: np.random.Generator) -> str:
    return d.strftime(_pick(rng, ("%m/%d/%Y", "%Y-%m-%d", "%d %b %Y", "%B %d, %Y")))


# -- one note's content ------------------------------------------------------------------------
class _Content:
    """The clinical facts of one note, drawn once; a note type then renders some of them."""

    def __init__(self, bank: dict, rng: np.random.Generator):
        def draw(src: dict, key: str, n: int) -> list[str]:
            idx = rng.choice(len(src[key]), size=min(n, len(src[key])), replace=False)
            return [_fill(src[key][int(i)], rng) for i in idx]

        problem = _pick(rng, bank["problems"])
        self.complaint = draw(problem, "complaints", 1)[0]
        self.history = draw(bank, "history", 2)
        self.findings = draw(problem, "findings", 3)
        self.findings.insert(int(rng.integers(0, len(self.findings) + 1)), draw(bank, "findings", 1)[0])
        self.meds = draw(problem, "meds", 3)
        self.plans = draw(problem, "plans", 2) + draw(bank, "plans", 1)
        self.limits = {k: len(getattr(self, k)) for k in ("history", "findings", "meds", "plans")}
        self.duration = _fill(_pick(rng, _DURATIONS), rng)
        self.female = bool(rng.random() < 0.5)
        self.age = int(rng.integers(19, 89))
        # how much of it a note shows; adjusted to fit the word budget
        self.n = {"history": int(rng.integers(1, 3)), "findings": int(rng.integers(2, 4)),
                  "meds": min(self.limits["meds"], int(rng.integers(1, 3))), "plans": int(rng.integers(1, 3))}
        self.fillers: list[str] = []

    def part(self, key: str) -> list[str]:
        return getattr(self, key)[: self.n[key]]

    @property
    def sex_word(self) -> str:
        return "woman" if self.female else "man"

    @property
    def sex_letter(self) -> str:
        return "F" if self.female else "M"

    @property
    def pronoun(self) -> str:
        return "she" if self.female else "he"



# -- note types: each renders content, consuming the identifiers it places inline ---------------
def _clinic_note(c: _Content, ids: dict, rng) -> str:
    age = ids.pop("age", None) or str(c.age)
    cc_label = _pick(rng, ("CC:", "Chief complaint:", "Reason for visit:"))
    if rng.random() < 0.5:
        hpi = f"{age}yo {c.sex_letter} with {_join(c.part('history'), rng)} reports {c.complaint} for {c.duration}."
    else:
        hpi = f"{age}-year-old {c.sex_word} with a history of {_join(c.part('history'), rng)}, seen for {c.complaint} ({c.duration})."
    if "name" in ids and rng.random() < 0.5:
        hpi = f"{ids.pop('name')}, {hpi}"
    exam = _pick(rng, ("Exam:", "Findings:", "Objective:", "O/E:"))
    meds = _pick(rng, ("Meds:", "Medications:", "Current meds:"))
    plan = _pick(rng, ("Plan:", "A/P:", "Assessment and plan:"))
    return (f"{cc_label} {_cap(c.complaint)}. {hpi} {exam} {'; '.join(c.part('findings'))}. "
            f"{meds} {', '.join(c.part('meds'))}. {plan} {_cap(_join(c.part('plans'), rng))}.")


def _triage_message(c: _Content, ids: dict, rng) -> str:
    opening = _pick(rng, ("Phone triage", "Nurse triage call", "Patient portal message"))
    if "date_of_service" in ids:
        opening += f" {ids.pop('date_of_service')}"
    caller = ids.pop("name", None) or _pick(rng, ("Patient", "Pt", f"Patient's {_pick(rng, ('daughter', 'son', 'partner'))}"))
    reach = f" (callback {ids.pop('phone')})" if "phone" in ids else ""
    return (f"{opening}: {caller}{reach} reports {c.complaint} for {c.duration}. "
            f"Chart: {_join(c.part('history'), rng)}; last results {', '.join(c.part('findings'))}. "
            f"Taking {_join(c.part('meds'), rng)}. Advised: {_join(c.part('plans'), rng)}; "
            f"{_pick(rng, ('go to the ED if worse', 'call back if symptoms escalate', 'urgent review if new symptoms'))}.")


def _referral_letter(c: _Content, ids: dict, rng) -> str:
    who = ids.pop("name", None) or "this patient"
    age = ids.pop("age", None) or str(c.age)
    dob = f" (DOB {ids.pop('dob')})" if "dob" in ids else ""
    opening = _pick(rng, ("Dear Colleague,", "Dear Doctor,", "To the clinic team,"))
    ask = _pick(rng, ("Please consider", "I would be grateful for", "Suggested next steps:"))
    if "referring_doctor" in ids:
        sign = f"Sincerely, Dr. {ids.pop('referring_doctor')}" + (f", NPI {ids.pop('npi')}." if "npi" in ids else ".")
    else:
        sign = _pick(rng, ("Kind regards, referring physician.", "Many thanks.", "Thank you for seeing them."))
    return (f"{opening} I am referring {who}{dob}, a {age}-year-old {c.sex_word} with {_join(c.part('history'), rng)}, "
            f"for {c.complaint} over the past {c.duration}. Recent findings: {'; '.join(c.part('findings'))}. "
            f"Current medications: {', '.join(c.part('meds'))}. {ask} {_join(c.part('plans'), rng)}. {sign}")


def _follow_up(c: _Content, ids: dict, rng) -> str:
    head = _pick(rng, ("Follow-up visit.", "Progress note.", "Return visit."))
    who = ids.pop("name", None) or _pick(rng, ("Patient", "Pt"))
    course = _pick(rng, ("symptoms improved", "symptoms unchanged", "symptoms somewhat worse", "partial improvement"))
    tol = _pick(rng, ("tolerating it well", "mild side effects", "missed some doses"))
    meds = c.part("meds")
    cont = f"Continue {meds[0]}" + (f", add {_join(meds[1:], rng)}" if len(meds) > 1 else "")
    return (f"{head} {who} returns {_pick(rng, ('4', '6', '8', '12'))} weeks after starting {meds[0]} for {c.complaint}; "
            f"{course}, {tol}. Background {_join(c.part('history'), rng)}. Today {', '.join(c.part('findings'))}. "
            f"{cont}. Next: {_join(c.part('plans'), rng)}.")


def _discharge_summary(c: _Content, ids: dict, rng) -> str:
    where = []
    if "ward" in ids:
        where.append(ids.pop("ward"))
    if "hospital" in ids:
        where.append(ids.pop("hospital"))
    head = "Discharge summary" + (f", {', '.join(where)}" if where else "") + "."
    days = _pick(rng, ("1", "2", "3", "4", "5", "7"))
    return (f"{head} Admitted {days} days with {c.complaint}. PMH: {_join(c.part('history'), rng)}. "
            f"Key results: {'; '.join(c.part('findings'))}. Discharge medications: {', '.join(c.part('meds'))}. "
            f"Follow-up: {_join(c.part('plans'), rng)}.")


_RENDER = {
    "clinic_note": _clinic_note, "triage_message": _triage_message, "referral_letter": _referral_letter,
    "follow_up": _follow_up, "discharge_summary": _discharge_summary,
}

_HEADER_FORMS = {
    "name": ("Patient: {}", "Pt: {}", "Name: {}", "{}"),
    "mrn": ("MRN: {}", "MRN {}", "MR# {}"),
    "dob": ("DOB: {}", "DOB {}", "born {}"),
    "age": ("Age: {}", "age {}"),
    "date_of_service": ("DOS: {}", "Seen {}", "Date of service: {}"),
    "phone": ("Tel: {}", "Ph {}", "Phone: {}"),
    "email": ("Email: {}", "{}"),
    "hospital": ("{}", "Site: {}", "Facility: {}"),
    "ward": ("Ward: {}", "Location: {}"),
    "referring_doctor": ("Referred by Dr. {}", "Referring: Dr. {}"),
    "npi": ("NPI {}", "NPI: {}"),
}


def _header(ids: dict, rng) -> str:
    """The identifiers a note type did not place inline, as a header or footer line."""
    parts = [_pick(rng, _HEADER_FORMS[k]).format(ids[k]) for k in IDENTIFIER_KINDS if k in ids]
    return _pick(rng, (" | ", "; ", ", ")).join(parts)


# -- identifiers -----------------------------------------------------------------------------------
def _identifiers(fake, rng: np.random.Generator, c: _Content, dos: _dt.date) -> dict[str, str]:
    """Draw which kinds to plant for one note and their values (all strings, as they appear in the text)."""
    kinds = [k for k in _KIND_RATES if rng.random() < _KIND_RATES[k]]
    if not kinds:
        kinds = [_pick(rng, ("name", "mrn"))]
    if len(kinds) > _MAX_KINDS:
        kinds = [kinds[int(i)] for i in sorted(rng.choice(len(kinds), size=_MAX_KINDS, replace=False))]
    first = fake.first_name_female() if c.female else fake.first_name_male()
    last = fake.last_name()
    if "age" in kinds:  # HIPAA treats ages over 89 as identifying
        c.age = int(rng.integers(90, 104))
    dob = dos - _dt.timedelta(days=int(c.age * 365.25 + rng.integers(1, 364)))
    ids: dict[str, str] = {}
    for k in kinds:
        if k == "name":
            ids[k] = f"{first} {last}"
        elif k == "mrn":
            digits = int(rng.integers(7, 9))
            ids[k] = str(int(rng.integers(10 ** (digits - 1), 10**digits)))
        elif k == "dob":
            ids[k] = _date(dob, rng)
        elif k == "age":
            ids[k] = str(c.age)
        elif k == "date_of_service":
            ids[k] = _date(dos, rng)
        elif k == "phone":
            ids[k] = _phone(rng)
        elif k == "email":
            local = re.sub(r"[^a-z]", "", first.lower()) + _pick(rng, (".", "_", "")) + re.sub(r"[^a-z]", "", last.lower())
            if rng.random() < 0.5:
                local += str(int(rng.integers(1, 99)))
            ids[k] = f"{local}@{fake.free_email_domain()}"
        elif k == "hospital":
            base = _pick(rng, (fake.last_name(), fake.city(), f"St. {fake.first_name()}"))
            ids[k] = f"{base} {_pick(rng, ('General Hospital', 'Medical Center', 'Memorial Hospital', 'Regional Hospital'))}"
        elif k == "ward":
            ids[k] = _pick(rng, ("Ward {n}{x}", "Unit {n} {y}", "Ward {n} {y}")).format(
                n=int(rng.integers(1, 12)), x=_pick(rng, "ABCD"), y=_pick(rng, ("East", "West", "North", "South")))
        elif k == "referring_doctor":
            ids[k] = f"{fake.first_name()} {fake.last_name()}"
            ids["npi"] = _npi(rng)
    return ids


# -- one note, fitted to the word budget -------------------------------------------------------------
def _render(note_type: str, c: _Content, ids: dict, rng_seed: int) -> tuple[str, dict]:
    """Text and the identifiers it carries; the same seed gives the same phrasing choices."""
    rng = np.random.default_rng(rng_seed)
    left = dict(ids)
    body = _RENDER[note_type](c, left, rng)
    if c.fillers:
        body += " " + " ".join(c.fillers)
    if left:
        line = _header(left, rng)
        body = f"{line}. {body}" if rng.random() < 0.7 else f"{body} {line}."
    return body, ids


def _fit(note_type: str, c: _Content, ids: dict, rng: np.random.Generator) -> tuple[str, dict]:
    seed = int(rng.integers(2**63))
    text, ids = _render(note_type, c, ids, seed)
    for _ in range(40):
        wc = _words(text)
        if MIN_WORDS <= wc <= MAX_WORDS:
            return text, ids
        if wc > MAX_WORDS:
            key = max((k for k in c.n if c.n[k] > 1), key=lambda k: c.n[k], default=None)
            if key is not None:
                c.n[key] -= 1
            elif c.fillers:
                c.fillers.pop()
            elif len(ids) > 1:  # drop the least important identifier still planted
                drop = [k for k in IDENTIFIER_KINDS if k in ids and k not in ("name", "npi")][-1]
                ids = {k: v for k, v in ids.items() if k != drop and not (drop == "referring_doctor" and k == "npi")}
            else:
                break
        else:
            key = min((k for k in c.n if c.n[k] < c.limits[k]), key=lambda k: c.n[k], default=None)
            if key is not None:
                c.n[key] += 1
            else:
                c.fillers.append(_FILLERS[len(c.fillers) % len(_FILLERS)])
        text, ids = _render(note_type, c, ids, seed)
    raise AssertionError(f"could not fit a {note_type} note into {MIN_WORDS}-{MAX_WORDS} words: {text!r}")


# -- public API --------------------------------------------------------------------------------------
def _phrase_lists(obj) -> list[tuple[str, ...]]:
    """Every tuple of phrases inside a phrase bank."""
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _phrase_lists(v)]
    if isinstance(obj, tuple) and obj and all(isinstance(x, str) for x in obj):
        return [obj]
    if isinstance(obj, tuple):
        return [t for x in obj for t in _phrase_lists(x)]
    return []


def _phrase_half(obj, h: int, owner: dict[str, int]):
    """Every phrase list cut to the phrases that ``owner`` gives to half ``h``."""
    if isinstance(obj, dict):
        return {key: _phrase_half(v, h, owner) for key, v in obj.items()}
    if isinstance(obj, tuple) and obj and all(isinstance(x, str) for x in obj):
        return tuple(x for x in obj if owner[x] == h)
    if isinstance(obj, tuple):
        return tuple(_phrase_half(x, h, owner) for x in obj)
    return obj


def _read_alike(a: set[str], b: set[str]) -> bool:
    """Whether a rendering of one phrase is, word for word, inside a rendering of the other."""
    return any(f" {r} " in f" {s} " or f" {s} " in f" {r} " for r in a for s in b)


@functools.lru_cache(maxsize=1)
def _half_owner() -> dict[str, int]:
    """The half (0 or 1) of every phrase of the banks, such that the halves share no wording.

    Phrases that read alike ("naproxen 500 mg twice daily" and "... with food", "BMI {bmi}" and
    "obesity, BMI {bmi}", "atorvastatin {40|80} mg nightly" and "atorvastatin 80 mg nightly") form one
    group, and a group or a phrase that several lists hold belongs to one half everywhere; these are
    placed first, alternately, so that every list keeps phrases in both halves. The other phrases
    of a list alternate between the halves, each going to the half the list has fewer of.
    """
    lists = _phrase_lists(SPECIALTIES)
    phrases = list(dict.fromkeys(x for lst in lists for x in lst))
    reads = [expand_alternatives(x) for x in phrases]
    parent = list(range(len(phrases)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(phrases)):
        for j in range(i):
            if _read_alike(reads[i], reads[j]):
                parent[max(root(i), root(j))] = min(root(i), root(j))
    gof = {x: root(i) for i, x in enumerate(phrases)}  # each phrase's group
    members: dict[int, list[str]] = {}
    for x in phrases:
        members.setdefault(gof[x], []).append(x)
    held = {x: sum(x in lst for lst in lists) for x in phrases}
    linked = [g for g, m in members.items() if len(m) > 1 or held[m[0]] > 1]  # in order of first appearance
    is_linked = set(linked)
    # lists with no phrase of their own: their groups must not all fall in one half
    tight = [{gof[x] for x in lst} for lst in lists if all(gof[x] in is_linked for x in lst)]
    half: dict[int, int] = {}

    def place(k: int) -> bool:
        if k == len(linked):
            return True
        for h in (k % 2, 1 - k % 2):
            half[linked[k]] = h
            if all(not (t <= half.keys()) or len({half[g] for g in t}) == 2 for t in tight) and place(k + 1):
                return True
        del half[linked[k]]
        return False

    if not place(0):  # a bug in the phrase banks, never the user's input
        raise AssertionError("the phrase banks cannot be cut into two halves that share no wording")
    owner = {x: half[gof[x]] for x in phrases if gof[x] in half}
    for lst in lists:
        count = [sum(owner.get(x) == h for x in lst) for h in (0, 1)]
        for i, x in enumerate(lst):
            if x not in owner:
                owner[x] = i % 2 if count[0] == count[1] else int(count[1] < count[0])
                count[owner[x]] += 1
    return owner


def _half_banks(h: int) -> dict[str, dict]:
    return _phrase_half(SPECIALTIES, h, _half_owner())


def make_demo_notes(
    n_per_class: int = 60,
    seed: int = 0,
    *,
    specialties: Sequence[str] | None = None,
    identifier_rate: float = 0.6,
    phrase_half: int | None = None,
) -> list[dict]:
    """Synthetic outpatient notes, triage messages, referral letters, follow-ups and discharge summaries.

    Returns ``n_per_class`` rows per specialty, shuffled, each
    ``{"id", "text", "label", "note_type", "planted"}``. ``planted`` maps an
    identifier kind (see ``IDENTIFIER_KINDS``) to the exact string written
    into the text; it is empty for notes without identifiers (about
    ``1 - identifier_rate`` of them). Every text has 25-70 words.
    Deterministic for a given seed.

    ``phrase_half`` (0 or 1) writes the notes from every other phrase of each phrase
    list only, so that notes written from half 0 and notes written from half 1 share
    the frames and topics but no phrase (the leak-injection suite's clean notes).
    """
    from faker import Faker

    if isinstance(n_per_class, bool) or not isinstance(n_per_class, (int, np.integer)) or n_per_class < 1:
        raise InputError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= float(identifier_rate) <= 1.0:
        raise InputError(f"identifier_rate must be in [0, 1], got {identifier_rate!r}")
    labels = list(SPECIALTIES) if specialties is None else list(specialties)
    unknown = [s for s in labels if s not in SPECIALTIES]
    if unknown or not labels:
        raise InputError(f"unknown specialty {unknown[0] if unknown else '(none given)'!r}; choose from {', '.join(SPECIALTIES)}")

    if phrase_half not in (None, 0, 1):
        raise InputError(f"phrase_half must be 0, 1 or None, got {phrase_half!r}")
    banks = SPECIALTIES if phrase_half is None else _half_banks(phrase_half)

    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    start = _dt.date(2022, 1, 3)

    order = [lab for lab in labels for _ in range(int(n_per_class))]
    order = [order[int(i)] for i in rng.permutation(len(order))]
    rows = []
    for i, label in enumerate(order):
        c = _Content(banks[label], rng)
        note_type = _pick(rng, _NOTE_TYPES_BY_SPECIALTY.get(label, NOTE_TYPES))
        dos = start + _dt.timedelta(days=int(rng.integers(0, 3 * 365)))
        ids = _identifiers(fake, rng, c, dos) if rng.random() < identifier_rate else {}
        text, ids = _fit(note_type, c, ids, rng)
        missing = [k for k, v in ids.items() if v not in text]
        if missing:  # a bug in a renderer, never the user's input
            raise AssertionError(f"planted {missing} not written into {text!r}")
        rows.append({"id": f"demo-{i:05d}", "text": text, "label": label, "note_type": note_type, "planted": ids})
    return rows


def write_demo_csv(path: str | Path, n_per_class: int = 60, seed: int = 0) -> Path:
    """Write ``make_demo_notes`` as UTF-8 CSV (columns id, text, label, note_type, planted as JSON); returns the path."""
    rows = make_demo_notes(n_per_class, seed)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text", "label", "note_type", "planted"])
            for r in rows:
                w.writerow([r["id"], r["text"], r["label"], r["note_type"], json.dumps(r["planted"], sort_keys=True)])
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m smotext_private.demo", description="Write demo clinical notes with planted identifiers.")
    ap.add_argument("--out", default="data/demo_notes.csv", help="CSV to write (default: %(default)s)")
    ap.add_argument("--per-class", type=int, default=60, help="notes per specialty (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        path = write_demo_csv(args.out, args.per_class, args.seed)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    n = args.per_class * len(SPECIALTIES)
    print(json.dumps({"path": str(path), "n_notes": n, "labels": list(SPECIALTIES), "seed": args.seed}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
