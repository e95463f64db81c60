// The PGP word list (Juola and Zimmermann, PGPfone, 1995): 256 two-syllable words for the bytes at even
// positions and 256 three-syllable words for the bytes at odd positions, so that a dropped, repeated or swapped
// word is heard as a break in the rhythm.
namespace OfflineSigner.Ceremony.Fingerprints;

/// <summary>The two tables of the PGP word list, indexed by byte value.</summary>
public static class PgpWordList
{
    /// <summary>The words for bytes at even positions (0, 2, 4, ...): two syllables each.</summary>
    public static IReadOnlyList<string> Even { get; } =
    [
        /* 00 */ "aardvark", "absurd", "accrue", "acme", "adrift", "adult", "afflict", "ahead",
        /* 08 */ "aimless", "Algol", "allow", "alone", "ammo", "ancient", "apple", "artist",
        /* 10 */ "assume", "Athens", "atlas", "Aztec", "baboon", "backfield", "backward", "banjo",
        /* 18 */ "beaming", "bedlamp", "beehive", "beeswax", "befriend", "Belfast", "berserk", "billiard",
        /* 20 */ "bison", "blackjack", "blockade", "blowtorch", "bluebird", "bombast", "bookshelf", "brackish",
        /* 28 */ "breadline", "breakup", "brickyard", "briefcase", "Burbank", "button", "buzzard", "cement",
        /* 30 */ "chairlift", "chatter", "checkup", "chisel", "choking", "chopper", "Christmas", "clamshell",
        /* 38 */ "classic", "classroom", "cleanup", "clockwork", "cobra", "commence", "concert", "cowbell",
        /* 40 */ "crackdown", "cranky", "crowfoot", "crucial", "crumpled", "crusade", "cubic", "dashboard",
        /* 48 */ "deadbolt", "deckhand", "dogsled", "dragnet", "drainage", "dreadful", "drifter", "dropper",
        /* 50 */ "drumbeat", "drunken", "Dupont", "dwelling", "eating", "edict", "egghead", "eightball",
        /* 58 */ "endorse", "endow", "enlist", "erase", "escape", "exceed", "eyeglass", "eyetooth",
        /* 60 */ "facial", "fallout", "flagpole", "flatfoot", "flytrap", "fracture", "framework", "freedom",
        /* 68 */ "frighten", "gazelle", "Geiger", "glitter", "glucose", "goggles", "goldfish", "gremlin",
        /* 70 */ "guidance", "hamlet", "highchair", "hockey", "indoors", "indulge", "inverse", "involve",
        /* 78 */ "island", "jawbone", "keyboard", "kickoff", "kiwi", "klaxon", "locale", "lockup",
        /* 80 */ "merit", "minnow", "miser", "Mohawk", "mural", "music", "necklace", "Neptune",
        /* 88 */ "newborn", "nightbird", "Oakland", "obtuse", "offload", "optic", "orca", "payday",
        /* 90 */ "peachy", "pheasant", "physique", "playhouse", "Pluto", "preclude", "prefer", "preshrunk",
        /* 98 */ "printer", "prowler", "pupil", "puppy", "python", "quadrant", "quiver", "quota",
        /* A0 */ "ragtime", "ratchet", "rebirth", "reform", "regain", "reindeer", "rematch", "repay",
        /* A8 */ "retouch", "revenge", "reward", "rhythm", "ribcage", "ringbolt", "robust", "rocker",
        /* B0 */ "ruffled", "sailboat", "sawdust", "scallion", "scenic", "scorecard", "Scotland", "seabird",
        /* B8 */ "select", "sentence", "shadow", "shamrock", "showgirl", "skullcap", "skydive", "slingshot",
        /* C0 */ "slowdown", "snapline", "snapshot", "snowcap", "snowslide", "solo", "southward", "soybean",
        /* C8 */ "spaniel", "spearhead", "spellbind", "spheroid", "spigot", "spindle", "spyglass", "stagehand",
        /* D0 */ "stagnate", "stairway", "standard", "stapler", "steamship", "sterling", "stockman", "stopwatch",
        /* D8 */ "stormy", "sugar", "surmount", "suspense", "sweatband", "swelter", "tactics", "talon",
        /* E0 */ "tapeworm", "tempest", "tiger", "tissue", "tonic", "topmost", "tracker", "transit",
        /* E8 */ "trauma", "treadmill", "Trojan", "trouble", "tumor", "tunnel", "tycoon", "uncut",
        /* F0 */ "unearth", "unwind", "uproot", "upset", "upshot", "vapor", "village", "virus",
        /* F8 */ "Vulcan", "waffle", "wallet", "watchword", "wayside", "willow", "woodlark", "Zulu",
    ];

    /// <summary>The words for bytes at odd positions (1, 3, 5, ...): three syllables each.</summary>
    public static IReadOnlyList<string> Odd { get; } =
    [
        /* 00 */ "adroitness", "adviser", "aftermath", "aggregate", "alkali", "almighty", "amulet", "amusement",
        /* 08 */ "antenna", "applicant", "Apollo", "armistice", "article", "asteroid", "Atlantic", "atmosphere",
        /* 10 */ "autopsy", "Babylon", "backwater", "barbecue", "belowground", "bifocals", "bodyguard", "bookseller",
        /* 18 */ "borderline", "bottomless", "Bradbury", "bravado", "Brazilian", "breakaway", "Burlington", "businessman",
        /* 20 */ "butterfat", "Camelot", "candidate", "cannonball", "Capricorn", "caravan", "caretaker", "celebrate",
        /* 28 */ "cellulose", "certify", "chambermaid", "Cherokee", "Chicago", "clergyman", "coherence", "combustion",
        /* 30 */ "commando", "company", "component", "concurrent", "confidence", "conformist", "congregate", "consensus",
        /* 38 */ "consulting", "corporate", "corrosion", "councilman", "crossover", "crucifix", "cumbersome", "customer",
        /* 40 */ "Dakota", "decadence", "December", "decimal", "designing", "detector", "detergent", "determine",
        /* 48 */ "dictator", "dinosaur", "direction", "disable", "disbelief", "disruptive", "distortion", "document",
        /* 50 */ "embezzle", "enchanting", "enrollment", "enterprise", "equation", "equipment", "escapade", "Eskimo",
        /* 58 */ "everyday", "examine", "existence", "exodus", "fascinate", "filament", "finicky", "forever",
        /* 60 */ "fortitude", "frequency", "gadgetry", "Galveston", "getaway", "glossary", "gossamer", "graduate",
        /* 68 */ "gravity", "guitarist", "hamburger", "Hamilton", "handiwork", "hazardous", "headwaters", "hemisphere",
        /* 70 */ "hesitate", "hideaway", "holiness", "hurricane", "hydraulic", "impartial", "impetus", "inception",
        /* 78 */ "indigo", "inertia", "infancy", "inferno", "informant", "insincere", "insurgent", "integrate",
        /* 80 */ "intention", "inventive", "Istanbul", "Jamaica", "Jupiter", "leprosy", "letterhead", "liberty",
        /* 88 */ "maritime", "matchmaker", "maverick", "Medusa", "megaton", "microscope", "microwave", "midsummer",
        /* 90 */ "millionaire", "miracle", "misnomer", "molasses", "molecule", "Montana", "monument", "mosquito",
        /* 98 */ "narrative", "nebula", "newsletter", "Norwegian", "October", "Ohio", "onlooker", "opulent",
        /* A0 */ "Orlando", "outfielder", "Pacific", "pandemic", "Pandora", "paperweight", "paragon", "paragraph",
        /* A8 */ "paramount", "passenger", "pedigree", "Pegasus", "penetrate", "perceptive", "performance", "pharmacy",
        /* B0 */ "phonetic", "photograph", "pioneer", "pocketful", "politeness", "positive", "potato", "processor",
        /* B8 */ "provincial", "proximate", "puberty", "publisher", "pyramid", "quantity", "racketeer", "rebellion",
        /* C0 */ "recipe", "recover", "repellent", "replica", "reproduce", "resistor", "responsive", "retraction",
        /* C8 */ "retrieval", "retrospect", "revenue", "revival", "revolver", "sandalwood", "sardonic", "Saturday",
        /* D0 */ "savagery", "scavenger", "sensation", "sociable", "souvenir", "specialist", "speculate", "stethoscope",
        /* D8 */ "stupendous", "supportive", "surrender", "suspicious", "sympathy", "tambourine", "telephone", "therapist",
        /* E0 */ "tobacco", "tolerance", "tomorrow", "torpedo", "tradition", "travesty", "trombonist", "truncated",
        /* E8 */ "typewriter", "ultimate", "undaunted", "underfoot", "unicorn", "unify", "universe", "unravel",
        /* F0 */ "upcoming", "vacancy", "vagabond", "vertigo", "Virginia", "visitor", "vocalist", "voyager",
        /* F8 */ "warranty", "Waterloo", "whimsical", "Wichita", "Wilmington", "Wyoming", "yesteryear", "Yucatan",
    ];
}
