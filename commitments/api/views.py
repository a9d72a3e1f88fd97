"""API views. Short on purpose: input → serializer, write → service, errors →
errors.api_exception_handler."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors, services
from ..exceptions import CommitmentNotFound
from ..filters import CommitmentApiFilterSet
from ..models import (
    ApiToken,
    Channel,
    Commitment,
    Organisation,
    Source,
    Visit,
    WebhookDelivery,
    WebhookEndpoint,
)
from ..permissions import is_manager
from ..services import EvidenceInput
from ..services.idempotency import IDEMPOTENCY_KEY_MAX_LENGTH
from ..validators import storable
from . import serializers as s
from .authentication import BearerTokenAuthentication
from .errors import (
    Conflict,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
    api_exception_handler,
    flatten_errors,
)
from .pagination import ApiCursorPagination, CommitmentCursorPagination
from .parsers import LimitedJSONParser
from .permissions import TrackerApiPermission
from .throttles import ApiRateThrottle


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, skipped when the request names no filter: a FilterSet
    with no data filters nothing, and building it was a fixed cost of every list and
    read (issue 13)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and filterset_class.parameter_names().isdisjoint(
            request.query_params
        ):
            return queryset
        return super().filter_queryset(request, queryset, view)


IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description='The ETag you read, e.g. "3". Missing: 428; stale: 412.',
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # What services.idempotency accepts: printable ASCII, not only spaces, at most 200.
    {
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
        "pattern": "^[ -~]*[!-~][ -~]*$",
    },
    OpenApiParameter.HEADER,
    description="Replays return the first answer; a different body with the same key: 422. "
    "1 to 200 printable ASCII characters.",
)


class ApiMixin:
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [TrackerApiPermission]
    throttle_classes = [ApiRateThrottle]
    # JSON only: the API's one body format (forms would turn nested items into strings).
    parser_classes = [LimitedJSONParser]
    # Ids are digits (and fit a bigint); anything else is a 404 before any query.
    lookup_value_regex = r"[0-9]{1,18}"

    @classmethod
    def as_view(cls, *args, **kwargs):
        view = super().as_view(*args, **kwargs)
        view.login_required = False  # the API answers 401 itself; no login redirect
        return view

    def get_exception_handler(self):
        return api_exception_handler

    def initial(self, request, *args, **kwargs):
        # DRF's parsers read the stream directly, past Django's body-size check.
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(request) -> int:
    """The version named by If-Match: 428 without one, 412 if it cannot be a version."""
    header = request.headers.get("If-Match")
    if header is None or not header.strip():
        raise PreconditionRequired()
    value = header.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise PreconditionFailed()
    return int(value)


class CommitmentViewSet(
    ApiMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Commitments. No DELETE: a commitment is cancelled (a transition), never erased."""

    serializer_class = s.CommitmentSerializer
    filterset_class = CommitmentApiFilterSet
    filter_backends = [FilterBackend]
    pagination_class = CommitmentCursorPagination
    queryset = Commitment.objects.annotate(owner_username=F("owner__username")).prefetch_related(
        "co_pledgers"
    )

    def _data(self, queryset, pk) -> tuple[dict, int]:
        # Plain values, no model instances (issue 13): the JSON is built from a dict.
        row = get_object_or_404(queryset, pk=pk)
        return s.commitments_data([row])[0], row["version"]

    def _respond(self, pk: int, code: int = status.HTTP_200_OK) -> Response:
        data, version = self._data(selectors.commitment_api_rows(), pk)
        return Response(data, status=code, headers={"ETag": etag(version)})

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(selectors.commitment_api_rows()))
        return self.get_paginated_response(s.commitments_data(page))

    def retrieve(self, request, *args, **kwargs):
        # As get_object: the query's filters apply (a row they exclude is a 404).
        queryset = self.filter_queryset(selectors.commitment_api_rows())
        data, version = self._data(queryset, kwargs[self.lookup_field])
        return Response(data, headers={"ETag": etag(version)})

    @extend_schema(responses={201: s.CommitmentSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        initial = data.pop("status", None)
        commitment = services.commitment_create(
            actor=request.user,
            channel=Channel.API,
            data=data,
            **({"status": initial} if initial else {}),
        )
        response = self._respond(commitment.pk, status.HTTP_201_CREATED)
        response["Location"] = f"{s.API_PREFIX}commitments/{commitment.pk}/"
        return response

    @extend_schema(parameters=[IF_MATCH])
    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        commitment = self.get_object()
        # The body first: a request that can never succeed is a 400 whatever its If-Match.
        serializer = self.get_serializer(commitment, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        version = expected_version(request)
        data = dict(serializer.validated_data)
        wanted_status = data.pop("status", commitment.status)
        if wanted_status != commitment.status:
            raise serializers.ValidationError(
                {"status": ["Change the status with POST …/transitions/."]}
            )
        services.commitment_update(
            commitment_id=commitment.pk,
            actor=request.user,
            channel=Channel.API,
            data=data,
            expected_version=version,
        )
        return self._respond(commitment.pk)

    @extend_schema(parameters=[IF_MATCH])
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        request=s.TransitionSerializer,
        responses={200: s.CommitmentSerializer},
        parameters=[IF_MATCH],
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def transitions(self, request, pk=None):
        # An unknown id is a 404 whatever the body and headers. The row is read (locked)
        # by the service, once, with no look beforehand (issue 13: a transition's
        # queries, tests/api/test_fast_paths): the id is looked up apart only for a
        # request refused before the service.
        serializer = s.TransitionSerializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
            version = expected_version(request)
        except APIException:
            if not Commitment.objects.filter(pk=pk).exists():
                raise Http404 from None
            raise
        move = serializer.validated_data
        try:
            services.commitment_transition(
                commitment_id=int(pk),
                to_status=move["to"],
                actor=request.user,
                channel=Channel.API,
                note=move.get("note", ""),
                evidence=[EvidenceInput(**item) for item in move.get("evidence", [])],
                expected_version=version,
                due_date=move.get("due_date"),
            )
        except CommitmentNotFound:
            raise Http404 from None
        return self._respond(int(pk))

    def _sub_list(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(responses=s.StatusChangeSerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        pagination_class=ApiCursorPagination,
        serializer_class=s.StatusChangeSerializer,
    )
    def history(self, request, pk=None):
        commitment = get_object_or_404(Commitment, pk=pk)
        rows = commitment.status_changes.select_related("actor")
        return self._sub_list(rows, s.StatusChangeSerializer)

    @extend_schema(methods=["get"], responses=s.EvidenceSerializer(many=True))
    @extend_schema(
        methods=["post"], request=s.EvidenceInputSerializer, responses={201: s.EvidenceSerializer}
    )
    @action(
        detail=True,
        methods=["get", "post"],
        filter_backends=[],
        pagination_class=ApiCursorPagination,
        serializer_class=s.EvidenceSerializer,
    )
    def evidence(self, request, pk=None):
        commitment = get_object_or_404(Commitment, pk=pk)
        if request.method == "GET":
            rows = commitment.evidence.select_related("added_by")
            return self._sub_list(rows, s.EvidenceSerializer)
        serializer = s.EvidenceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = services.evidence_add(
            commitment_id=commitment.pk,
            actor=request.user,
            channel=Channel.API,
            item=EvidenceInput(**serializer.validated_data),
        )
        return Response(s.EvidenceSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["get"], responses=s.NoteSerializer(many=True))
    @extend_schema(
        methods=["post"], request=s.NoteInputSerializer, responses={201: s.NoteSerializer}
    )
    @action(
        detail=True,
        methods=["get", "post"],
        filter_backends=[],
        pagination_class=ApiCursorPagination,
        serializer_class=s.NoteSerializer,
    )
    def notes(self, request, pk=None):
        commitment = get_object_or_404(Commitment, pk=pk)
        if request.method == "GET":
            return self._sub_list(commitment.notes.select_related("author"), s.NoteSerializer)
        serializer = s.NoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = services.note_add(
            commitment_id=commitment.pk,
            actor=request.user,
            channel=Channel.API,
            text=serializer.validated_data["text"],
        )
        return Response(s.NoteSerializer(note).data, status=status.HTTP_201_CREATED)


class VisitViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Visit.objects.prefetch_related("sources", "context_facts")
    serializer_class = s.VisitSerializer
    pagination_class = ApiCursorPagination
    filter_backends: list = []


class OrganisationViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Organisation.objects.all()
    serializer_class = s.OrganisationSerializer
    pagination_class = ApiCursorPagination
    filter_backends: list = []


class SourceViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Source.objects.all()
    serializer_class = s.SourceSerializer
    pagination_class = ApiCursorPagination
    filter_backends: list = []


class CommitmentSyncView(ApiMixin, APIView):
    """Bulk upsert keyed by external_id (≤ 1,000 items), one result per item."""

    @extend_schema(
        request=s.SyncRequestSerializer,
        responses={200: s.SyncResponseSerializer, 409: OpenApiResponse(), 422: OpenApiResponse()},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request):
        body = s.SyncRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return Response(self._run(request, body.validated_data["commitments"]))
        try:
            answer = services.idempotent_run(
                token=request.auth,
                key=key,
                body=request.data,
                work=lambda: self._run(request, body.validated_data["commitments"]),
            )
        except services.IdempotencyKeyReused as exc:
            raise Unprocessable(str(exc)) from None
        except services.IdempotencyKeyBusy as exc:
            raise Conflict(str(exc)) from None
        headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
        return Response(answer.body, status=answer.status, headers=headers)

    def _run(self, request, raw_items: list[dict]) -> dict:
        context = {"request": request, "related_cache": {}}
        results: list[dict | None] = [None] * len(raw_items)
        items, positions = [], []
        # One serializer validates every item: building one per item deep-copies its
        # ~25 declared fields each time, which cost more than the whole write path.
        # run_validation is what is_valid() runs; it keeps no state between calls.
        serializer = s.CommitmentSerializer(context=context)
        s.prime_related_cache(serializer, raw_items)
        for index, raw in enumerate(raw_items):
            named = raw.get("external_id") if isinstance(raw, dict) else None
            external_id = named if isinstance(named, str) else ""
            try:
                data = dict(serializer.run_validation(raw))
            except serializers.ValidationError as exc:
                results[index] = _item(
                    index, external_id, "error", errors=flatten_errors(exc.detail)
                )
                continue
            if not data.get("external_id"):
                results[index] = _item(
                    index, "", "error", errors={"external_id": ["Required for sync."]}
                )
                continue
            version = raw.get("version")  # optional: the version the client last read
            items.append(
                services.SyncItem(
                    external_id=data["external_id"],
                    status=data.pop("status", None),
                    data=data,
                    expected_version=version if type(version) is int else None,
                )
            )
            positions.append(index)
        synced = services.commitments_sync(actor=request.user, channel=Channel.API, items=items)
        for index, result in zip(positions, synced, strict=True):
            c = result.commitment
            results[index] = _item(
                index,
                result.external_id,
                result.outcome,
                commitment=c,
                errors=result.errors,
            )
        counts = dict.fromkeys(("created", "updated", "unchanged", "error"), 0)
        for row in results:
            counts[row["result"]] += 1
        # Errors and external ids may echo the client's text: keep only what can be
        # encoded as UTF-8 and stored in jsonb (the same answer is sent and replayed).
        return storable(
            {
                "created": counts["created"],
                "updated": counts["updated"],
                "unchanged": counts["unchanged"],
                "errors": counts["error"],
                "results": results,
            }
        )


def _item(index, external_id, result, *, commitment=None, errors=None) -> dict:
    return {
        "index": index,
        "external_id": external_id,
        "result": result,
        "id": commitment.pk if commitment else None,
        "reference": commitment.reference if commitment else None,
        "version": commitment.version if commitment else None,
        "errors": errors or {},
    }


# --- The schema and its docs: signed-in users only, unless API_DOCS_PUBLIC ------


class DocsPermission(permissions.BasePermission):
    message = "Sign in or send a bearer token to read the API schema."

    def has_permission(self, request, view) -> bool:
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)


class SchemaView(ApiMixin, SpectacularAPIView):
    """The OpenAPI document: a session or any token (read scope is enough)."""

    permission_classes = [DocsPermission]


class DocsView(SpectacularSwaggerSplitView):
    """The interactive docs page: behind the browser sign-in unless API_DOCS_PUBLIC."""

    @classmethod
    def as_view(cls, **kwargs):
        inner = super().as_view(**kwargs)

        @login_not_required
        @wraps(inner)
        def view(request, *args, **kw):
            if not settings.API_DOCS_PUBLIC and not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            return inner(request, *args, **kw)

        return view


# --- Integrations (issue 16) ----------------------------------------------------------------


class ManagersWithWriteScope(TrackerApiPermission):
    """Webhooks hold secrets and send data out: managers and admins, write tokens only."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if isinstance(request.auth, ApiToken) and not request.auth.can_write:
            self.message = "Webhooks need a write token."
            return False
        if not is_manager(request.user):
            self.message = "Only managers and admins manage webhooks."
            return False
        return True


class WebhookEndpointViewSet(ApiMixin, viewsets.ModelViewSet):
    """Outgoing webhook endpoints (docs/webhooks.md)."""

    serializer_class = s.WebhookEndpointSerializer
    pagination_class = ApiCursorPagination
    permission_classes = [ManagersWithWriteScope]
    filter_backends: list = []
    queryset = WebhookEndpoint.objects.select_related("owner")

    def perform_create(self, serializer):
        serializer.instance = services.webhook_endpoint_create(
            actor=self.request.user, data=serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.webhook_endpoint_update(
            actor=self.request.user,
            endpoint_id=serializer.instance.pk,
            data=serializer.validated_data,
        )

    def perform_destroy(self, instance):
        services.webhook_endpoint_delete(actor=self.request.user, endpoint_id=instance.pk)

    @extend_schema(responses={200: s.WebhookDeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        page = ApiCursorPagination()
        rows = page.paginate_queryset(
            WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id"), request, self
        )
        return page.get_paginated_response(s.WebhookDeliverySerializer(rows, many=True).data)

    @extend_schema(request=None, responses={202: s.WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        endpoint = self.get_object()
        delivery = services.webhook_test_send(actor=request.user, endpoint_id=endpoint.pk)
        return Response(s.WebhookDeliverySerializer(delivery).data, status=202)

    @extend_schema(request=None, responses={202: s.WebhookDeliverySerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_pk>[0-9]{1,18})/redeliver",
    )
    def redeliver(self, request, pk=None, delivery_pk=None):
        endpoint = self.get_object()
        old = get_object_or_404(WebhookDelivery, pk=delivery_pk, endpoint=endpoint)
        delivery = services.webhook_redeliver(actor=request.user, delivery_id=old.pk)
        return Response(s.WebhookDeliverySerializer(delivery).data, status=202)


class MyCalendarView(ApiMixin, APIView):
    """The URL of the caller's own calendar feed (made on first ask)."""

    @extend_schema(responses={200: s.CalendarFeedSerializer})
    def get(self, request):
        feed = services.calendar_feed_personal(user=request.user)
        return Response({"url": services.calendar_feed_url(feed), "kind": feed.kind})
