"""The audio build: pause scripts -> spoken cues -> assembled MP3 clips plus a manifest.

Run as `trust-guide audio build`. May import `skill.pauses` and `skill.content`; nothing in `skill/`
imports this package (the skill reads only the manifest). Modules, bottom up: `engines` (voices),
`assemble` (one clip from its cues, with ffmpeg for loudness and MP3), `build` (the whole library,
cached by content, on every core), `cli` (the click command).
"""
