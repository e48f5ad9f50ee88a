"""Attribute value lists for bioS with the paper's cardinalities (Allen-Zhu & Li 3.1/3.3).

first 400 x middle 400 x last 1000 names; birth dates 12 months x 28 days x 200 years;
200 birth cities; 300 universities; 100 majors; 263 employers, each with its own fixed city;
2 genders (pronouns). Names and place pieces come from Faker's en_US provider lists (MIT),
drawn with a fixed generator seed: the lists are part of the dataset definition, not of a
run's seed. Their SHA-256 is recorded so a Faker upgrade that changes them is visible.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

LIST_SEED = 3_3_2024  # fixed: changing it changes the dataset
N_FIRST, N_MIDDLE, N_LAST = 400, 400, 1000
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
DAYS = 28
YEARS = tuple(range(1900, 2100))  # 200 years
N_CITIES, N_UNIVERSITIES, N_MAJORS, N_EMPLOYERS = 200, 300, 100, 263

MAJORS = (
    "Accounting", "Aerospace Engineering", "African Studies", "Agricultural Science",
    "Anthropology", "Applied Mathematics", "Archaeology", "Architecture", "Art History",
    "Astronomy", "Astrophysics", "Biochemistry", "Bioengineering", "Biology", "Biophysics",
    "Botany", "Business Administration", "Cell Biology", "Chemical Engineering", "Chemistry",
    "Civil Engineering", "Classics", "Cognitive Science", "Communications",
    "Comparative Literature", "Computer Engineering", "Computer Science", "Construction Management",
    "Creative Writing", "Criminology", "Dance", "Data Science", "Dentistry", "Drama",
    "Early Childhood Education", "Earth Science", "Ecology", "Economics", "Education",
    "Electrical Engineering", "English Literature", "Entomology", "Environmental Science",
    "Epidemiology", "Ethnic Studies", "Film Studies", "Finance", "Fine Arts", "Food Science",
    "Forestry", "French", "Genetics", "Geography", "Geology", "German", "Graphic Design",
    "Health Sciences", "History", "Hospitality Management", "Human Resources",
    "Industrial Design", "Industrial Engineering", "Information Systems", "International Relations",
    "Journalism", "Kinesiology", "Latin American Studies", "Law", "Linguistics", "Marine Biology",
    "Marketing", "Materials Science", "Mathematics", "Mechanical Engineering", "Medicine",
    "Meteorology", "Microbiology", "Music", "Music Theory", "Neuroscience", "Nuclear Engineering",
    "Nursing", "Nutrition", "Oceanography", "Pharmacology", "Philosophy", "Photography",
    "Physics", "Political Science", "Psychology", "Public Health", "Public Policy",
    "Religious Studies", "Robotics", "Social Work", "Sociology", "Software Engineering",
    "Statistics", "Urban Planning", "Zoology",
)
_UNI_PATTERNS = ("{last} University", "University of {state}", "{state} State University",
                 "{last} College", "{last} Institute of Technology", "{city} Polytechnic")
_COMPANY_SUFFIXES = ("Inc", "Group", "Labs", "Systems", "Partners", "Holdings", "Industries",
                     "Logistics", "Analytics", "Foods", "Energy", "Media", "Health", "Robotics")


@dataclass(frozen=True)
class ValueLists:
    first: tuple[str, ...]
    middle: tuple[str, ...]
    last: tuple[str, ...]
    cities: tuple[str, ...]
    universities: tuple[str, ...]
    majors: tuple[str, ...]
    employers: tuple[str, ...]
    employer_city: tuple[int, ...]  # index into cities: an employer's city is determined

    def sha256(self) -> str:
        blob = json.dumps([list(getattr(self, f)) for f in self.__dataclass_fields__])
        return hashlib.sha256(blob.encode()).hexdigest()

    def cardinalities(self) -> dict[str, int]:
        return {"first": len(self.first), "middle": len(self.middle), "last": len(self.last),
                "birth_date": len(MONTHS) * DAYS * len(YEARS), "birth_city": len(self.cities),
                "university": len(self.universities), "major": len(self.majors),
                "employer": len(self.employers), "gender": 2}


def _unique(rng: np.random.Generator, n: int, make: object) -> tuple[str, ...]:
    out: dict[str, None] = {}
    while len(out) < n:
        out.setdefault(make(rng), None)  # type: ignore[operator]
    return tuple(out)


@lru_cache(maxsize=1)
def value_lists() -> ValueLists:
    from faker.providers.address.en_US import Provider as Address
    from faker.providers.person.en_US import Provider as Person

    rng = np.random.default_rng(LIST_SEED)
    given = sorted(set(Person.first_names_female) | set(Person.first_names_male))
    surnames = sorted(set(Person.last_names))
    first = tuple(rng.choice(given, N_FIRST, replace=False).tolist())
    middle = tuple(rng.choice(given, N_MIDDLE, replace=False).tolist())
    last = tuple(rng.choice(surnames, N_LAST, replace=False).tolist())
    states, abbr = list(Address.states), list(Address.states_abbr)[:50]

    def city(r: np.random.Generator) -> str:
        if r.random() < 0.5:
            base = f"{r.choice(Address.city_prefixes)} {r.choice(given)}"
        else:
            base = f"{r.choice(surnames)}{r.choice(Address.city_suffixes)}"
        return f"{base}, {r.choice(abbr)}"

    cities = _unique(rng, N_CITIES, city)

    def university(r: np.random.Generator) -> str:
        pat = str(r.choice(_UNI_PATTERNS))
        town = str(r.choice(cities)).split(",")[0]
        return pat.format(last=r.choice(surnames), state=r.choice(states), city=town)

    universities = _unique(rng, N_UNIVERSITIES, university)

    def employer(r: np.random.Generator) -> str:
        if r.random() < 0.7:
            return f"{r.choice(surnames)} {r.choice(_COMPANY_SUFFIXES)}"
        return f"{r.choice(surnames)}-{r.choice(surnames)} {r.choice(_COMPANY_SUFFIXES)}"

    employers = _unique(rng, N_EMPLOYERS, employer)
    employer_city = tuple(int(i) for i in rng.integers(0, N_CITIES, N_EMPLOYERS))
    assert len(MAJORS) == N_MAJORS and len(set(MAJORS)) == N_MAJORS
    return ValueLists(first, middle, last, cities, universities, MAJORS, employers,
                      employer_city)
