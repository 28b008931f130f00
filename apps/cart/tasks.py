from config.celery import RetryingTask, app


@app.task(
    name="cart.purge_idle_guest_carts", base=RetryingTask, queue="default", ignore_result=True
)
def purge_idle_guest_carts() -> int:
    """Delete guest carts idle for CART_GUEST_TTL_DAYS (beat: daily). Idempotent."""
    from apps.cart.services import cart_purge_idle_guests

    return cart_purge_idle_guests()
