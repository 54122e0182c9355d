"""Word pools the synthetic organization draws its names and labels from.

Plain data only: tuples of strings (and a few tuples of tuples). Every pick from these pools is
made by a seeded ``random.Random``, so the same seed always yields the same organization.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Aaliyah", "Aaron", "Abigail", "Adam", "Adrian", "Aisha", "Alan", "Alejandro", "Alex",
    "Alice", "Amara", "Amelia", "Amir", "Ana", "Andrea", "Andrew", "Angela", "Anil", "Anna",
    "Anthony", "Arjun", "Ava", "Beatriz", "Ben", "Bianca", "Brandon", "Brian", "Caleb",
    "Camila", "Carlos", "Carmen", "Catherine", "Chen", "Chloe", "Chris", "Claire", "Daniel",
    "Dana", "David", "Deborah", "Diego", "Dmitri", "Elena", "Eli", "Elif", "Emily", "Emma",
    "Eric", "Esther", "Ethan", "Fatima", "Felix", "Fernando", "Fiona", "François", "Gabriel",
    "Grace", "Hannah", "Hassan", "Helen", "Hiroshi", "Ian", "Ingrid", "Isaac", "Isabella",
    "Ivan", "Jack", "Jamal", "James", "Jana", "Jasmine", "Javier", "Jennifer", "Jessica",
    "Ji-woo", "Joanna", "John", "Jonas", "Jordan", "José", "Julia", "Justin", "Kai", "Karen",
    "Katarzyna", "Kate", "Kevin", "Kofi", "Laura", "Leila", "Leo", "Liam", "Lina", "Lucas",
    "Lucía", "Luis", "Maja", "Malik", "Marcus", "Maria", "Mark", "Marta", "Mateo", "Maya",
    "Mei", "Michael", "Mohammed", "Monica", "Nadia", "Naomi", "Nathan", "Nicole", "Nikhil",
    "Nina", "Noah", "Olga", "Oliver", "Olivia", "Omar", "Oscar", "Pablo", "Patricia", "Paul",
    "Pedro", "Pierre", "Priya", "Rachel", "Rafael", "Rahul", "Rebecca", "Renée", "Ricardo",
    "Robert", "Rosa", "Ryan", "Samantha", "Samuel", "Sara", "Sean", "Sergei", "Sofia",
    "Sophie", "Stefan", "Steven", "Sunil", "Tanya", "Thomas", "Tiago", "Tom", "Tomás",
    "Valentina", "Victor", "Wei", "William", "Yara", "Yusuf", "Zoë", "Zoltan",
)  # fmt: skip

LAST_NAMES = (
    "Abbott", "Adeyemi", "Ahmed", "Alvarez", "Andersen", "Bailey", "Baker", "Becker", "Bennett",
    "Bianchi", "Brooks", "Brown", "Castillo", "Chan", "Chen", "Clarke", "Cohen", "Collins",
    "Costa", "Cruz", "Dubois", "Duarte", "Edwards", "Evans", "Fischer", "Fitzgerald", "Flores",
    "Fontaine", "Garcia", "García", "Gomez", "Gonzalez", "Green", "Gupta", "Hall", "Hansen",
    "Harris", "Hayes", "Hernandez", "Hoffmann", "Hughes", "Ibrahim", "Ito", "Jackson",
    "Jansen", "Jensen", "Johnson", "Jones", "Kaur", "Kelly", "Khan", "Kim", "King", "Kowalski",
    "Kumar", "Larsen", "Lee", "Lewis", "Li", "Lopez", "Marcoux", "Martin", "Martinez",
    "Mendes", "Meyer", "Miller", "Moore", "Morales", "Morgan", "Müller", "Murphy", "Nakamura",
    "Nguyen", "Nielsen", "Novak", "O'Brien", "Okafor", "Olsen", "Ortega", "Park", "Patel",
    "Perez", "Peters", "Petrov", "Phillips", "Popescu", "Price", "Quinn", "Raman", "Reyes",
    "Richter", "Rivera", "Roberts", "Robinson", "Rodriguez", "Rossi", "Russo", "Sánchez",
    "Santos", "Sato", "Schmidt", "Schneider", "Scott", "Shah", "Silva", "Singh", "Smith",
    "Sørensen", "Stewart", "Sullivan", "Suzuki", "Tanaka", "Taylor", "Thomas", "Thompson",
    "Torres", "Turner", "Van der Berg", "Vargas", "Wagner", "Walker", "Wang", "Ward",
    "Watanabe", "Weber", "White", "Whitfield", "Williams", "Wilson", "Wright", "Yamamoto",
    "Yilmaz", "Young", "Zhang", "Zimmermann",
)  # fmt: skip

COMPANY_FIRST = (
    "Acme", "Blue Harbor", "Cedar", "Northwind", "Summit", "Granite", "Silverline", "Redwood",
    "Brightwater", "Ironbridge", "Lakeside", "Pioneer", "Evergreen", "Starlight", "Keystone",
)  # fmt: skip
COMPANY_SECOND = (
    "Widgets", "Logistics", "Health", "Financial", "Manufacturing", "Foods", "Energy",
    "Insurance", "Analytics", "Outfitters", "Labs", "Freight",
)  # fmt: skip
COMPANY_SUFFIX = ("Inc", "LLC", "Group", "Corp", "Ltd")

# (division, departments, job titles); the first title of each division is its head.
DIVISIONS = (
    ("Sales", ("Inside Sales", "Field Sales", "Sales Operations"),
     ("VP of Sales", "Sales Manager", "Account Executive", "Sales Development Representative",
      "Sales Operations Analyst")),
    ("Finance", ("Accounts Payable", "Accounts Receivable", "Treasury", "FP&A"),
     ("Chief Financial Officer", "Finance Manager", "Accounts Payable Specialist",
      "Financial Analyst", "Payroll Specialist")),
    ("Engineering", ("Platform", "Mobile", "Data", "QA"),
     ("VP of Engineering", "Engineering Manager", "Software Engineer", "Senior Software Engineer",
      "QA Engineer", "Data Engineer")),
    ("Marketing", ("Brand", "Demand Generation", "Communications"),
     ("Marketing Director", "Marketing Manager", "Content Strategist", "Marketing Coordinator")),
    ("Human Resources", ("Recruiting", "People Operations", "Benefits"),
     ("HR Director", "HR Manager", "Recruiter", "HR Generalist", "Benefits Coordinator")),
    ("Operations", ("Facilities", "Procurement", "Logistics"),
     ("COO", "Operations Manager", "Procurement Specialist", "Logistics Coordinator",
      "Facilities Technician")),
    ("IT", ("Help Desk", "Infrastructure", "Security"),
     ("CIO", "IT Manager", "Systems Administrator", "Help Desk Technician",
      "Security Analyst", "Network Engineer")),
    ("Legal", ("Contracts", "Compliance"),
     ("General Counsel", "Compliance Manager", "Paralegal", "Contracts Specialist")),
    ("Customer Service", ("Support Tier 1", "Support Tier 2", "Customer Success"),
     ("Head of Customer Service", "Support Manager", "Customer Support Specialist",
      "Customer Success Manager")),
    ("Executive", ("Office of the CEO",),
     ("Chief Executive Officer", "Executive Assistant", "Chief of Staff")),
)  # fmt: skip
DIVISION_WEIGHTS = (14, 8, 16, 7, 5, 10, 8, 3, 12, 2)

# (location label, city for ip_location)
LOCATIONS = (
    ("Austin HQ", "Austin, TX"), ("London Office", "London, GB"), ("Remote", "Denver, CO"),
    ("Chicago Office", "Chicago, IL"), ("Berlin Office", "Berlin, DE"),
    ("Toronto Office", "Toronto, CA"), ("New York Office", "New York, NY"),
    ("Tampa Office", "St.Petersburg, FL"), ("Madrid Office", "Madrid, ES"),
    ("Sydney Office", "Sydney, AU"), ("Singapore Office", "Singapore, SG"),
    ("São Paulo Office", "São Paulo, BR"),
)  # fmt: skip
LOCATION_WEIGHTS = (30, 12, 18, 8, 6, 5, 7, 4, 3, 3, 2, 2)

LANGUAGES = (
    "English - United States", "English - United Kingdom", "Spanish - Spain",
    "French - France", "German - Germany", "Portuguese - Brazil",
)  # fmt: skip
LANGUAGE_WEIGHTS = (70, 10, 6, 5, 6, 3)

COMMENTS = ("Low PPP", "VIP", "Contractor", "On leave", "Security champion", "Board member")
BUILDINGS = ("Building A", "Building B", "Building C", "Annex")

MISC_GROUPS = (
    "Pilot Group", "Security Champions", "Executives", "Contractors", "Interns",
    "Help Desk Escalations", "Phish Alert Testers", "Remote Workers", "Board Members",
    "Privileged Accounts", "Travel Frequently", "Payroll Approvers", "Wire Transfer Approvers",
    "Mergers Team", "Social Media Team", "Field Technicians", "Night Shift",
)  # fmt: skip
PROJECT_WORDS = (
    "Falcon", "Orion", "Atlas", "Nimbus", "Phoenix", "Aurora", "Zephyr", "Mercury", "Titan",
    "Juniper", "Sequoia", "Cobalt", "Helix", "Quasar", "Vega", "Tundra",
)  # fmt: skip

PHISHING_CAMPAIGN_NAMES = (
    "Quarterly Baseline PST", "Monthly Phishing Campaign", "Executive Spear Phish",
    "Finance Wire Fraud Test", "HR Benefits Enrollment Lure", "Holiday Shipping Notice",
    "New Hire Phishing Baseline", "Password Expiry Simulation", "Microsoft 365 Login Lure",
    "Shared Document Lure", "Invoice Overdue Test", "Payroll Update Request",
    "Voicemail Notification", "IT Support Ticket", "Package Delivery Failure",
    "Tax Season Lure", "Conference Invitation", "Security Alert Simulation",
)  # fmt: skip
CALLBACK_CAMPAIGN_NAMES = (
    "Callback: Help Desk Verification", "Callback: Subscription Renewal",
    "Callback: Fraud Alert Hotline", "Callback: Invoice Dispute",
)  # fmt: skip
FREQUENCIES = {"Weekly": 7, "Biweekly": 14, "Monthly": 1, "Quarterly": 3}  # days or months
PHISHING_CATEGORIES = (
    (935, "Phishing For Sensitive Information"), (4237, "Current Events"),
    (11244, "Baseline Templates"), (2187, "Banking and Finance"), (3310, "Online Services"),
    (5121, "Social Networking"), (6650, "IT"), (7012, "HR"), (8120, "Coronavirus"),
    (9034, "Holidays"), (10457, "QR Code"), (12873, "Delivery Services"),
)  # fmt: skip
PHISHING_TEMPLATES = (
    (2, "Your Amazon Order"), (11428, "CNN Breaking News"),
    (118342, "Shared Document: Q4 Budget Review"),
    (20931, "Microsoft 365: Password Expires Today"), (33120, "DocuSign: Please Review"),
    (41277, "UPS: Delivery Attempt Failed"), (50218, "HR: Updated Benefits Guide"),
    (61802, "Zoom: Missed Meeting Recording"), (72466, "IT: Mailbox Quota Exceeded"),
    (80011, "LinkedIn: You Appeared In 9 Searches"), (91523, "Payroll: Direct Deposit Change"),
    (103377, "Teams: New Message From Your Manager"), (115902, "Scan To Verify Your MFA Device"),
)  # fmt: skip
LANDING_PAGES = (
    (0, "Default"), (1842, "SEI Landing Page"), (4072, "Verify Java"), (5120, "Oops! You Clicked"),
    (6388, "Red Flags Explained"),
)  # fmt: skip
BROWSERS = (
    ("Chrome", ("128.0", "129.0", "130.0", "131.0")), ("Edge", ("128.0", "130.0")),
    ("Firefox", ("130.0", "131.0")), ("Safari", ("17.6", "18.0")),
    ("Outlook", ("16.0",)),
)  # fmt: skip
OPERATING_SYSTEMS = ("Windows 10", "Windows 11", "MacOSX", "iOS", "Android", "Linux")

STORE_MODULES = (
    "Kevin Mitnick Security Awareness Training", "Security Awareness Training",
    "Phishing Foundations", "Social Engineering Red Flags", "Password Security Basics",
    "GDPR Essentials", "PCI DSS Compliance", "HIPAA Privacy & Security",
    "FFIEC (Financial Compliance)", "Ransomware Defense", "Mobile Device Security",
    "Safe Web Browsing", "Business Email Compromise", "Insider Threat Awareness",
    "Deepfakes and AI Scams", "QR Code Phishing", "Secure Remote Work",
    "Data Classification", "Handling Sensitive Information", "CEO Fraud",
    "Physical Security Basics", "USB Drop Attacks", "Vishing and Smishing",
    "Multi-Factor Authentication", "Cloud Security Essentials", "Privacy Basics",
    "Incident Reporting", "Travel Security", "Social Media Safety", "Phishing Foundations Quiz",
)  # fmt: skip
STORE_TYPES = ("Training Module", "Training Module", "Video Module", "Assessment", "Game")
PUBLISHERS = (
    "KnowBe4", "KnowBe4", "Security Awareness Company", "Popcorn Training", "Twist & Shout",
    "Exploqii", "Canopy", "El Pulpo Alliance",
)  # fmt: skip
DESCRIPTION_OPENERS = (
    "A comprehensive overview of best practices for recognizing",
    "This interactive module teaches employees how to spot",
    "Learn the warning signs of",
    "A short video that walks through real-world examples of",
    "Test your knowledge of",
)  # fmt: skip

POLICY_NAMES = (
    "Acceptable Use Policy", "Physical Security Policy", "Information Security Policy",
    "Remote Work Policy", "Password Policy", "Data Retention Policy", "Clean Desk Policy",
    "BYOD Policy", "Incident Response Policy", "Code of Conduct", "Privacy Policy",
    "Email Usage Policy", "Social Media Policy", "Travel Security Policy",
)  # fmt: skip
POLICY_LANGUAGES = ("en-us", "en-us", "en-us", "en-gb", "de-de", "fr-fr", "es-es")

TRAINING_CAMPAIGN_NAMES = (
    "Compliance Refresher", "Phish-Prone Remedial Training", "Executive Briefing",
    "Department Security Basics", "Privacy Month", "Ransomware Readiness",
    "Secure Remote Work Series", "Quarterly Micro-Learning", "Policy Acknowledgement Drive",
    "Cybersecurity Awareness Month", "Developer Secure Coding", "Finance Fraud Prevention",
)  # fmt: skip
RELATIVE_DURATIONS = (("1 week", 7), ("2 weeks", 14), ("30 days", 30), ("1 month", 30))
