"""Wikipedia dumps as Spotlight's model builder reads them: pages, plain text, links, redirects.

`dump` streams pages out of MediaWiki XML, `markup` turns wikitext into plain text with link
positions, `titles` applies MediaWiki's title rules, `redirects` resolves redirect chains,
`pages` classifies pages into Arrow rows and `counts` makes the per-partition counts that
`jobs/build_model.py` adds up into the four wikistats files.
"""
