"""The built-in prompt set: our own prompts, Parti-style challenges and categories, for demos and CI.

Written for diffeval (not copied from PartiPrompts or DrawBench), five per challenge across the five
challenges the diffusers guide samples from, each tagged with a Parti-style category.
"""

from __future__ import annotations

# (text, category, challenge); order is the order load_prompts returns them in.
BUILTIN_PROMPTS: tuple[tuple[str, str, str], ...] = (
    ("a red enamel kettle on a wooden kitchen table", "Artifacts", "Basic"),
    ("a golden retriever lying in tall grass", "Animals", "Basic"),
    ("a bowl of ramen topped with a soft-boiled egg", "Food & Beverage", "Basic"),
    ("a field of sunflowers under a clear blue sky", "Produce & Plants", "Basic"),
    ("an old woman knitting a striped scarf", "People", "Basic"),
    ("a cozy reading nook with a green armchair, a stack of books on the floor, a cat asleep on a "
     "knitted blanket and rain running down the window behind it", "Indoor Scenes", "Complex"),
    ("a night market in the rain, paper lanterns reflected in puddles, a vendor grilling skewers "
     "while a child points at a stall full of kites", "Outdoor Scenes", "Complex"),
    ("a vintage blue bicycle leaning against a brick wall, a basket of lemons on the front and a "
     "red umbrella hooked over the handlebar", "Vehicles", "Complex"),
    ("a pastry chef plating three small desserts on a slate board, each topped with a different "
     "berry", "Food & Beverage", "Complex"),
    ("a lighthouse on a rocky cliff at dusk, waves breaking below and gulls circling the lamp",
     "Outdoor Scenes", "Complex"),
    ("an empty plate except for a single green pea in the middle", "Food & Beverage",
     "Linguistic Structures"),
    ("a blue cube on top of a yellow sphere, to the left of a green pyramid", "Abstract",
     "Linguistic Structures"),
    ("three cats and one dog sitting in a row, with the dog second from the left", "Animals",
     "Linguistic Structures"),
    ("a bat flying over a baseball field at night", "Outdoor Scenes", "Linguistic Structures"),
    ("the man holding the umbrella is taller than the woman holding the leash", "People",
     "Linguistic Structures"),
    ("an octopus playing a grand piano on the sea floor", "Animals", "Imagination"),
    ("a teapot shaped like a snail, with steam curling out of its shell", "Artifacts", "Imagination"),
    ("a small town built on the back of a giant sea turtle, seen from above", "Illustrations",
     "Imagination"),
    ("a watercolor painting of a cactus wearing a knitted sweater", "Arts", "Imagination"),
    ("the Statue of Liberty carved out of ice, melting in a desert", "World Knowledge", "Imagination"),
    ('a bakery storefront with a hand-painted sign that says "FRESH BREAD DAILY"', "Outdoor Scenes",
     "Writing & Symbols"),
    ('a chalkboard menu in a cafe that reads "Soup of the day: tomato"', "Indoor Scenes",
     "Writing & Symbols"),
    ('a pink neon sign spelling "OPEN 24 HOURS" above a diner door', "Artifacts", "Writing & Symbols"),
    ('a white delivery van with the words "Moonlight Movers" painted on its side', "Vehicles",
     "Writing & Symbols"),
    ('an old hand-drawn sea chart with a compass rose and the words "Here be dragons" near the edge',
     "Illustrations", "Writing & Symbols"),
)
