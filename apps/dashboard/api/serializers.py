from rest_framework import serializers


class DashboardQuery(serializers.Serializer):
    shop = serializers.SlugField(
        required=False, max_length=140, help_text="Staff only: one shop's figures (slug)."
    )


class DayOutput(serializers.Serializer):
    date = serializers.DateField(source="day")
    orders = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)


class PeriodOutput(serializers.Serializer):
    orders = serializers.IntegerField(source="period_orders")
    revenue = serializers.DecimalField(source="period_revenue", max_digits=14, decimal_places=2)
    days = DayOutput(many=True, help_text="One entry per day, oldest first, today last.")


class WaitingOutput(serializers.Serializer):
    status = serializers.CharField()
    next_step = serializers.CharField(help_text="confirm, ship or deliver.")
    count = serializers.IntegerField()
    oldest_at = serializers.DateTimeField(allow_null=True)


class LowStockVariantOutput(serializers.Serializer):
    variant_id = serializers.UUIDField(source="id")
    sku = serializers.CharField()
    product_id = serializers.UUIDField()
    product_name = serializers.CharField(source="product.name")
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    low_stock_threshold = serializers.IntegerField()


class LowStockOutput(serializers.Serializer):
    count = serializers.IntegerField(source="low_stock_count")
    variants = LowStockVariantOutput(
        source="low_stock", many=True, help_text="At most 10, fewest available first."
    )


class ReviewRowOutput(serializers.Serializer):
    id = serializers.UUIDField()
    product_id = serializers.UUIDField()
    product_name = serializers.CharField(source="product.name")
    rating = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class DashboardOutput(serializers.Serializer):
    currency = serializers.CharField()
    today = DayOutput()
    last_30_days = PeriodOutput(source="*")
    waiting = WaitingOutput(many=True)
    low_stock = LowStockOutput(source="*")
    reviews = ReviewRowOutput(many=True, help_text="The 10 newest published reviews.")
