"""Which texts carry translations (django-modeltranslation), issue 15.

The original text stays in its own column (`Commitment.title`, `.description`,
`Organisation.name`, `Person.name`) and keeps its meaning everywhere: the API's `title`,
the importer, exports. The tracker's translations are registered on separate base
fields (`translated_title`, ...), so modeltranslation adds one column per interface
language (`translated_title_ru`, `translated_title_fa`, ...) and rewrites only those
names, never the original's. There is no fallback between languages: a text without a
translation in the reader's language is shown in its original (commitments/i18n.py).
The source quote is never translated.
"""

from modeltranslation.translator import TranslationOptions, register

from .models import Commitment, Organisation, Person


class _NoFallback(TranslationOptions):
    fallback_languages = {"default": ()}
    fallback_undefined = ""
    empty_values = ""


@register(Commitment)
class CommitmentTranslation(_NoFallback):
    fields = ("translated_title", "translated_description")


@register(Organisation)
class OrganisationTranslation(_NoFallback):
    fields = ("translated_name",)


@register(Person)
class PersonTranslation(_NoFallback):
    fields = ("translated_name",)
