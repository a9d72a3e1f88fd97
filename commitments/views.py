"""Browser pages. Reads use querysets; every write goes through commitments.services."""

from django.shortcuts import get_object_or_404, render

from .models import Commitment, Status, Visit


def dashboard(request):
    counts = {s.label: Commitment.objects.filter(status=s).count() for s in Status}
    return render(
        request,
        "commitments/dashboard.html",
        {"counts": counts, "overdue": Commitment.objects.overdue().count()},
    )


def commitment_detail(request, pk: int):
    commitment = get_object_or_404(
        Commitment.objects.select_related("visit", "pledged_by", "beneficiary", "owner", "source"),
        pk=pk,
    )
    return render(request, "commitments/commitment_detail.html", {"commitment": commitment})


def visit_detail(request, pk: int):
    visit = get_object_or_404(Visit, pk=pk)
    return render(
        request,
        "commitments/visit_detail.html",
        {"visit": visit, "commitments": visit.commitments.select_related("owner")},
    )
