from django import template

from .. import services

register = template.Library()


@register.filter
def may_use_two_factor(user) -> bool:
    return services.may_use_two_factor(user)
