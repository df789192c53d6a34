import factory

from affiliates.tests.factories import BrandFactory
from integrations.models import Source, SourceKind


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"source-{n}")
    name = factory.LazyAttribute(lambda s: s.slug.title())
    brand = factory.SubFactory(BrandFactory)
    kind = SourceKind.CRM
