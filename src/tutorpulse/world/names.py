"""Built-in name lists for synthetic tutors (no external faker)."""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Aaliyah", "Aarav", "Abigail", "Adrian", "Aisha", "Alejandro", "Alice", "Amara", "Amir",
    "Ana", "Andre", "Angela", "Anika", "Arjun", "Ava", "Benjamin", "Bianca", "Brandon",
    "Camila", "Carlos", "Carmen", "Chen", "Chloe", "Daniel", "David", "Deepa", "Diego",
    "Elena", "Eli", "Emily", "Emma", "Ethan", "Fatima", "Felix", "Gabriel", "Grace",
    "Hana", "Hannah", "Hiro", "Isaac", "Isabella", "Ivan", "Jack", "Jamal", "James",
    "Jasmine", "Javier", "Jin", "Jordan", "Joseph", "Julia", "Kai", "Karan", "Kate",
    "Kenji", "Kofi", "Laila", "Leah", "Leo", "Liam", "Lina", "Lucas", "Lucia", "Maya",
    "Mateo", "Mei", "Mia", "Michael", "Mohammed", "Nadia", "Naomi", "Nathan", "Nia",
    "Noah", "Olivia", "Omar", "Pablo", "Priya", "Rafael", "Rahul", "Rebecca", "Rosa",
    "Ryan", "Samuel", "Sara", "Sebastian", "Sofia", "Sophie", "Tariq", "Thomas", "Valentina",
    "Victor", "Wei", "William", "Yara", "Yusuf", "Zara", "Zoe",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Abbott", "Adeyemi", "Ahmed", "Alvarez", "Anderson", "Bailey", "Banerjee", "Bennett",
    "Brooks", "Brown", "Campbell", "Carter", "Castillo", "Chen", "Clark", "Cohen", "Collins",
    "Cruz", "Das", "Davis", "Diaz", "Edwards", "Evans", "Fernandez", "Fischer", "Flores",
    "Garcia", "Gomez", "Gonzalez", "Green", "Gupta", "Hall", "Harris", "Hernandez", "Hill",
    "Huang", "Hughes", "Iyer", "Jackson", "Jensen", "Johnson", "Jones", "Kaur", "Khan",
    "Kim", "King", "Kowalski", "Kumar", "Lee", "Lewis", "Li", "Lopez", "Martin", "Martinez",
    "Mehta", "Miller", "Mitchell", "Moore", "Morales", "Murphy", "Nakamura", "Nguyen",
    "Novak", "Okafor", "Okoye", "Ortiz", "Patel", "Perez", "Peterson", "Phillips", "Ramirez",
    "Reddy", "Reyes", "Rivera", "Roberts", "Robinson", "Rodriguez", "Rossi", "Sanchez",
    "Santos", "Schmidt", "Scott", "Shah", "Silva", "Singh", "Smith", "Sullivan", "Tanaka",
    "Taylor", "Thomas", "Thompson", "Torres", "Turner", "Walker", "Wang", "Williams",
    "Wilson", "Wright", "Yamamoto", "Young", "Zhang",
)  # fmt: skip
