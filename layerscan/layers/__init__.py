"""Every layer as a stream of entries (reader), whiteouts applied on a per-path timeline
(timeline, walk), and chosen file versions written out safely (recover)."""
