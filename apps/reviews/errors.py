"""Reviews and comments domain errors: stable codes, no HTTP."""

from apps.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, RuleViolation


class ProductNotFound(NotFound):
    code = "catalog.product_not_found"
    title = "Product not found"


class ReviewNotFound(NotFound):
    code = "review.not_found"
    title = "Review not found"


class ReviewExists(Conflict):
    code = "review.exists"
    title = "You have already reviewed this product"


class ReviewPurchaseRequired(RuleViolation):
    code = "review.purchase_required"
    title = "Only customers who received this product may review it"


class ReviewOwnProduct(RuleViolation):
    code = "review.own_product"
    title = "Sellers cannot review their own products"


class ReviewForbidden(PermissionDenied):
    code = "review.forbidden"
    title = "Only the author or staff may change this review"


class ReviewStatusForbidden(PermissionDenied):
    code = "review.status_forbidden"
    title = "Only staff may hide or publish reviews"


class CommentNotFound(NotFound):
    code = "comment.not_found"
    title = "Comment not found"


class CommentParentNotFound(NotFound):
    code = "comment.parent_not_found"
    title = "The comment you reply to does not exist"


class CommentParentMismatch(InvalidInput):
    code = "comment.parent_mismatch"
    title = "The parent comment belongs to another product"


class CommentForbidden(PermissionDenied):
    code = "comment.forbidden"
    title = "You may not change this comment"


class CommentThreadDeleteForbidden(PermissionDenied):
    code = "comment.thread_delete_forbidden"
    title = "Only staff and the product's seller may remove a whole thread"


class CommentDeleted(Conflict):
    code = "comment.deleted"
    title = "This comment has been deleted"
