"""`{{ name|josa:"으로/로" }}`: the word with the particle that fits it (kdcis.korean)."""

from django import template

from kdcis.korean import particle

register = template.Library()


@register.filter
def josa(word, pair: str) -> str:
    return particle(str(word), pair)
